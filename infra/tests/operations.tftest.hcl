# The worker's autoscaling, its stop timeout and the CloudWatch alarms (issue 13 items 3 and 4),
# planned and "applied" against the mocked AWS provider (no account, no network):
#   terraform init -plugin-dir=... && terraform test -filter=tests/operations.tftest.hcl

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  # Computed ARNs: the provider validates ARN arguments, so the mocks must look like ARNs.
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mocked"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mocked"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mocked-AbCdEf" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mocked" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mocked"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mocked/invocations"
      version    = "7"
    }
  }
  mock_resource "aws_lambda_alias" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mocked:live"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mocked:live/invocations"
    }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      id            = "abc123"
      api_endpoint  = "https://abc123.execute-api.eu-west-1.amazonaws.com"
      execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123"
    }
  }
  mock_resource "aws_apigatewayv2_authorizer" {
    defaults = { id = "jwt123" }
  }
  mock_resource "aws_apigatewayv2_integration" {
    defaults = { id = "int123" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/mocked", id = "arn:aws:ecs:eu-west-1:123456789012:cluster/mocked" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mocked:1" }
  }
}

variables {
  quantum_safe_enabled = true
  environment          = "dev"
  # The mock provider never uploads the bundle; any existing file gives filebase64sha256 a value.
  lambda_zip_path    = "tests/quantum_safe.tftest.hcl"
  worker_image       = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ima-qs-worker:1.0.0"
  vpc_subnet_ids     = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  audit_anchor       = "none-explicit"
  api_jwt_issuer     = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
  api_jwt_audiences  = ["client-id-1"]
}


run "worker_scales_on_backlog_per_task" {
  command = apply

  assert {
    condition = (aws_appautoscaling_target.worker[0].service_namespace == "ecs"
      && aws_appautoscaling_target.worker[0].scalable_dimension == "ecs:service:DesiredCount"
      && aws_appautoscaling_target.worker[0].resource_id == "service/ima-quantum/ima-quantum-worker"
    && aws_appautoscaling_target.worker[0].min_capacity == 1 && aws_appautoscaling_target.worker[0].max_capacity == 4)
    error_message = "the scalable target is the worker service's desired count, 1 to 4 tasks by default"
  }
  assert {
    condition     = aws_ecs_service.worker[0].desired_count == 1
    error_message = "the service starts at worker_min_tasks"
  }
  assert {
    condition = (aws_appautoscaling_policy.worker_backlog[0].policy_type == "TargetTrackingScaling"
      && aws_appautoscaling_policy.worker_backlog[0].resource_id == aws_appautoscaling_target.worker[0].resource_id
      && aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].target_value == 20
      && aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].scale_in_cooldown == 300
    && aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].disable_scale_in == false)
    error_message = "target tracking on the worker: target 20 messages per task, scale-in allowed with a 300 s cooldown"
  }
  assert {
    condition = ([for m in aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics :
    m.expression if m.return_data] == ["visible / running"])
    error_message = "the policy tracks exactly one returned series: visible / running"
  }
  assert {
    condition = ({ for m in aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics :
      m.id => "${m.metric_stat[0].metric[0].namespace}/${m.metric_stat[0].metric[0].metric_name}" if !m.return_data } == {
      visible = "AWS/SQS/ApproximateNumberOfMessagesVisible"
      running = "ECS/ContainerInsights/RunningTaskCount"
    })
    error_message = "visible = the queue's ApproximateNumberOfMessagesVisible, running = Container Insights RunningTaskCount"
  }
  assert {
    condition = ({ for m in aws_appautoscaling_policy.worker_backlog[0].target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics :
      m.id => { for d in m.metric_stat[0].metric[0].dimensions : d.name => d.value } if !m.return_data } == {
      visible = { QueueName = "ima-quantum-requests" }
      running = { ClusterName = "ima-quantum", ServiceName = "ima-quantum-worker" }
    })
    error_message = "the metrics are those of this queue and this service"
  }
  assert {
    condition     = aws_ecs_task_definition.worker[0].runtime_platform[0].cpu_architecture == "X86_64"
    error_message = "the default architecture is the image's: ima-qs package worker --image builds linux/amd64"
  }
  assert {
    condition     = one([for s in aws_ecs_cluster.main[0].setting : s.value if s.name == "containerInsights"]) == "enabled"
    error_message = "Container Insights on: RunningTaskCount exists only with it"
  }
  assert {
    condition = (jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].stopTimeout
      >= tonumber(one([for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.value if e.name == "STOP_GRACE_SECONDS"])) + 5
    && jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].stopTimeout <= 120)
    error_message = "stopTimeout must leave the worker its STOP_GRACE_SECONDS plus a margin (and stay within Fargate's 120 s)"
  }
}

run "alarms_without_a_topic_notify_nobody" {
  command = apply

  assert {
    condition = (length(aws_cloudwatch_metric_alarm.dlq_not_empty) + length(aws_cloudwatch_metric_alarm.queue_oldest_message)
      + length(aws_cloudwatch_metric_alarm.unanchored_entries) + length(aws_cloudwatch_metric_alarm.api_5xx)
      + length(aws_cloudwatch_metric_alarm.proxy_errors) + length(aws_cloudwatch_metric_alarm.proxy_throttles)
    + length(aws_cloudwatch_metric_alarm.worker_at_max)) == 7
    error_message = "seven alarms"
  }
  assert {
    condition = alltrue([for a in [aws_cloudwatch_metric_alarm.dlq_not_empty[0], aws_cloudwatch_metric_alarm.queue_oldest_message[0],
      aws_cloudwatch_metric_alarm.unanchored_entries[0], aws_cloudwatch_metric_alarm.api_5xx[0], aws_cloudwatch_metric_alarm.proxy_errors[0],
    aws_cloudwatch_metric_alarm.proxy_throttles[0], aws_cloudwatch_metric_alarm.worker_at_max[0]] : length(a.alarm_actions) == 0 && length(a.ok_actions) == 0])
    error_message = "alarm_sns_topic_arn = null: no actions"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.dlq_not_empty[0].namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.dlq_not_empty[0].metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.dlq_not_empty[0].dimensions == tomap({ QueueName = "ima-quantum-requests-dlq" })
    && aws_cloudwatch_metric_alarm.dlq_not_empty[0].threshold == 0 && aws_cloudwatch_metric_alarm.dlq_not_empty[0].comparison_operator == "GreaterThanThreshold")
    error_message = "DLQ alarm: any visible message in the DLQ"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.queue_oldest_message[0].metric_name == "ApproximateAgeOfOldestMessage"
      && aws_cloudwatch_metric_alarm.queue_oldest_message[0].dimensions == tomap({ QueueName = "ima-quantum-requests" })
    && aws_cloudwatch_metric_alarm.queue_oldest_message[0].threshold == 120)
    error_message = "oldest-message alarm on the request queue, 120 s by default"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.unanchored_entries[0].namespace == "ima-qs"
      && aws_cloudwatch_metric_alarm.unanchored_entries[0].metric_name == "UnanchoredEntries"
    && aws_cloudwatch_metric_alarm.unanchored_entries[0].dimensions == tomap({ service = "worker" }))
    error_message = "unanchored-entries alarm on the worker's EMF metric (namespace ima-qs, service = worker)"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.api_5xx[0].namespace == "AWS/ApiGateway" && aws_cloudwatch_metric_alarm.api_5xx[0].metric_name == "5xx"
    && aws_cloudwatch_metric_alarm.api_5xx[0].dimensions == tomap({ ApiId = "abc123" }))
    error_message = "proxy 5xx alarm on the HTTP API"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.proxy_throttles[0].metric_name == "Throttles"
      && aws_cloudwatch_metric_alarm.proxy_throttles[0].dimensions == tomap({ FunctionName = "ima-quantum-proxy" })
    && aws_cloudwatch_metric_alarm.proxy_errors[0].metric_name == "Errors" && aws_cloudwatch_metric_alarm.proxy_errors[0].dimensions == tomap({ FunctionName = "ima-quantum-proxy" }))
    error_message = "proxy throttles and errors on the function"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.worker_at_max[0].namespace == "ECS/ContainerInsights"
      && aws_cloudwatch_metric_alarm.worker_at_max[0].metric_name == "RunningTaskCount"
      && aws_cloudwatch_metric_alarm.worker_at_max[0].threshold == 4
    && aws_cloudwatch_metric_alarm.worker_at_max[0].comparison_operator == "GreaterThanOrEqualToThreshold")
    error_message = "worker-at-max alarm: running tasks >= worker_max_tasks"
  }
  assert {
    condition     = output.alarm_names.dlq_not_empty == "ima-quantum-dlq-not-empty" && output.alarm_names.worker_at_max == "ima-quantum-worker-at-max" && length(output.alarm_names) == 7
    error_message = "output alarm_names (read by ima-qs rollout --tf-outputs)"
  }
}

run "alarms_notify_the_topic" {
  command = plan
  variables {
    alarm_sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ima-oncall"
    worker_max_tasks    = 10
  }
  assert {
    condition = alltrue([for a in [aws_cloudwatch_metric_alarm.dlq_not_empty[0], aws_cloudwatch_metric_alarm.queue_oldest_message[0],
      aws_cloudwatch_metric_alarm.unanchored_entries[0], aws_cloudwatch_metric_alarm.api_5xx[0], aws_cloudwatch_metric_alarm.proxy_errors[0],
      aws_cloudwatch_metric_alarm.proxy_throttles[0], aws_cloudwatch_metric_alarm.worker_at_max[0]] :
    a.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ima-oncall"]) && a.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ima-oncall"])])
    error_message = "every alarm notifies the topic on ALARM and on OK"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.worker_at_max[0].threshold == 10 && aws_appautoscaling_target.worker[0].max_capacity == 10
    error_message = "the at-max alarm follows worker_max_tasks"
  }
}

run "stopped_worker" {
  command = plan
  variables {
    worker_min_tasks = 0
    worker_max_tasks = 0
  }
  assert {
    condition     = aws_appautoscaling_target.worker[0].min_capacity == 0 && aws_appautoscaling_target.worker[0].max_capacity == 0
    error_message = "min = max = 0 stops the worker (RegisterScalableTarget brings the current count into the new range)"
  }
  assert {
    condition     = aws_ecs_service.worker[0].desired_count == 1
    error_message = "Terraform leaves the running count to the scaler (ignore_changes = [desired_count]): the apply above started 1"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.worker_at_max[0].threshold == 1
    error_message = "a stopped worker is never 'at max' (threshold at least 1)"
  }
}

run "longer_grace_longer_stop_timeout" {
  command = plan
  variables {
    worker_stop_grace_seconds = 90
  }
  assert {
    condition = (jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].stopTimeout == 100
    && contains([for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "STOP_GRACE_SECONDS=90"))
    error_message = "stopTimeout follows worker_stop_grace_seconds (+10 s)"
  }
}

run "max_below_min_is_refused" {
  command = plan
  variables {
    worker_min_tasks = 3
    worker_max_tasks = 2
  }
  expect_failures = [aws_appautoscaling_target.worker]
}

run "scaling_from_zero_is_refused" {
  command = plan
  variables {
    worker_min_tasks = 0
    worker_max_tasks = 4
  }
  expect_failures = [aws_appautoscaling_target.worker]
}

run "grace_beyond_fargate_stop_timeout_is_refused" {
  command = plan
  variables {
    worker_stop_grace_seconds = 115
  }
  expect_failures = [var.worker_stop_grace_seconds]
}

run "a_topic_that_is_not_an_sns_arn_is_refused" {
  command = plan
  variables {
    alarm_sns_topic_arn = "arn:aws:sqs:eu-west-1:123456789012:not-a-topic"
  }
  expect_failures = [var.alarm_sns_topic_arn]
}

run "disabled_creates_no_scaling_and_no_alarms" {
  command = apply
  variables {
    quantum_safe_enabled = false
    lambda_zip_path      = null
    worker_image         = null
    audit_anchor         = null
    api_jwt_issuer       = null
    api_jwt_audiences    = []
  }
  assert {
    condition = (length(aws_appautoscaling_target.worker) + length(aws_appautoscaling_policy.worker_backlog)
      + length(aws_cloudwatch_metric_alarm.dlq_not_empty) + length(aws_cloudwatch_metric_alarm.queue_oldest_message)
      + length(aws_cloudwatch_metric_alarm.unanchored_entries) + length(aws_cloudwatch_metric_alarm.api_5xx)
      + length(aws_cloudwatch_metric_alarm.proxy_errors) + length(aws_cloudwatch_metric_alarm.proxy_throttles)
    + length(aws_cloudwatch_metric_alarm.worker_at_max)) == 0
    error_message = "quantum_safe_enabled = false creates no scaling and no alarm"
  }
  assert {
    condition     = output.alarm_names == null && output.worker_scaling == null
    error_message = "outputs are null when disabled"
  }
}
