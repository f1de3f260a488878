# The worker scales on its queue (issue 13 item 3): ECS service auto scaling with target tracking
# on the backlog per task, computed by metric math as in the AWS guide "Create a target tracking
# scaling policy for Application Auto Scaling using metric math" (example: Amazon SQS queue
# backlog per task):
#
#   backlog per task = ApproximateNumberOfMessagesVisible (AWS/SQS, the request queue)
#                      / RunningTaskCount (ECS/ContainerInsights, this service)
#
# and the policy keeps it near backlog_per_task_target, between worker_min_tasks and
# worker_max_tasks. Application Auto Scaling uses its service-linked role
# (AWSServiceRoleForApplicationAutoScaling_ECSService, created by AWS on first use): no role here.
#
# Scale-in stops a task the way every stop does: SIGTERM, then SIGKILL after the container's
# stopTimeout (ecs.tf: worker_stop_grace_seconds + 10 s). The worker (src/service/worker/main.ts)
# stops receiving at once, lets the batch in hand finish within STOP_GRACE_SECONDS
# (= worker_stop_grace_seconds), and otherwise releases its messages (visibility 0: another task
# takes them at once) and exits 0 before the SIGKILL. A message is deleted only after its
# outcome is stored (SPEC §8.2), so a scale-in loses no request.
#
# Zero tasks: with no task running the ratio has no value, so the policy cannot scale out from 0;
# worker_min_tasks >= 1 whenever worker_max_tasks > 0 (precondition below). Stopped (the state
# `ima-qs rollout rollback` and a first apply before the keys exist want) is min = max = 0.

resource "aws_appautoscaling_target" "worker" {
  count = local.count

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main[0].name}/${aws_ecs_service.worker[0].name}"
  min_capacity       = var.worker_min_tasks
  max_capacity       = var.worker_max_tasks

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.worker_max_tasks >= var.worker_min_tasks
      error_message = "worker_max_tasks must be >= worker_min_tasks."
    }
    precondition {
      condition     = var.worker_max_tasks == 0 || var.worker_min_tasks >= 1
      error_message = "worker_min_tasks must be >= 1 while worker_max_tasks > 0: the backlog-per-task metric divides by the running tasks and cannot scale out from 0 (stopped = both 0)."
    }
  }
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  count = local.count

  name               = "${local.ecs_service_name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.worker[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task_target
    scale_out_cooldown = var.worker_scale_out_cooldown_seconds
    scale_in_cooldown  = var.worker_scale_in_cooldown_seconds
    disable_scale_in   = false

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "requests waiting in the queue"
        return_data = false
        metric_stat {
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.requests[0].name
            }
          }
          stat = "Sum"
        }
      }
      metrics {
        id          = "running"
        label       = "worker tasks running"
        return_data = false
        metric_stat {
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main[0].name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker[0].name
            }
          }
          stat = "Average"
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "requests waiting per running worker task"
        expression  = "visible / running"
        return_data = true
      }
    }
  }
}
