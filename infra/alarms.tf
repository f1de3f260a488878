# CloudWatch alarms (issue 13 item 4). `ima-qs rollout day 5` reads their states (d5.alarms-ok):
# ALARM fails it, INSUFFICIENT_DATA warns, OK passes. Names: <name_prefix>-quantum-<what>
# (src/rollout/resources.ts has the same list as its defaults; a test keeps them equal).
#
# Metrics: AWS's own wherever one exists (SQS for the queues, Lambda and API Gateway for the
# proxy, Container Insights for the task count); the service's Embedded Metric Format metrics
# (namespace ima-qs, dimension service = proxy | worker) only for what AWS cannot see: audit
# entries left without a PCR anchor. EMF needs no cloudwatch:PutMetricData: the worker and the
# proxy print EMF JSON lines to stdout, the awslogs driver / the Lambda runtime ship them to
# CloudWatch Logs, and CloudWatch Logs extracts the metrics from the log events.
#
# treat_missing_data is chosen per alarm: every metric here is published only when something
# happens (SQS: only while a queue is active; the service: only when it counts one; API Gateway
# and Lambda: only with traffic), so "no data" means "nothing happened" = notBreaching, and an
# alarm settles to OK rather than INSUFFICIENT_DATA once evaluated.
#
# Notifications: alarm_sns_topic_arn (ALARM and OK transitions). null = no actions: the alarms
# still change state and the rollout still reads them, but nobody is notified (stated there too).

locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  alarm_prefix  = "${var.name_prefix}-quantum"
}

# A request failed maxReceiveCount (5) times and was moved to the DLQ: the worker could not decide
# it (read the worker log by request id; the message is sealed).
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-dlq-not-empty"
  alarm_description   = "Requests in the dead-letter queue ${local.dlq_name}: the worker failed them 5 times. Runbook: infra/README.md, Alarms."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.requests_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # a DLQ with messages in it is "active" and publishes; an empty, untouched one publishes nothing
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# Requests wait too long: the worker is stuck, failing, or the scaler is at worker_max_tasks.
resource "aws_cloudwatch_metric_alarm" "queue_oldest_message" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-queue-oldest-message"
  alarm_description   = "The oldest request in ${local.queue_name} has waited more than ${var.alarm_oldest_message_seconds} s for 5 minutes."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.requests[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = var.alarm_oldest_message_seconds
  comparison_operator = "GreaterThanThreshold"
  # an empty, idle queue publishes nothing: nothing is waiting
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# Audit entries stored without a PCR anchor (the anchor could not be made; SPEC §8.7): the
# service's own EMF metric, as no AWS metric can know it.
resource "aws_cloudwatch_metric_alarm" "unanchored_entries" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-unanchored-entries"
  alarm_description   = "The worker reported audit entries without a PCR anchor (metric ima-qs UnanchoredEntries). Check the TPM (ima-qs tpm doctor) and run ima-qs audit verify."
  namespace           = "ima-qs"
  metric_name         = "UnanchoredEntries"
  dimensions          = { service = "worker" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # the worker emits the count when it has one; silence = none
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# 5xx answers of the HTTP API (api.tf): proxy failures (503 = not queued), Lambda errors and
# timeouts (502/504) as callers see them.
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-proxy-5xx"
  alarm_description   = "The proxy API answered more than ${var.alarm_api_5xx_threshold} 5xx in 5 minutes. Read the Lambda log group ${local.lambda_log_group}."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = aws_apigatewayv2_api.proxy[0].id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarm_api_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  # API Gateway publishes only with traffic: no requests, no errors
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# Invocations the proxy function failed (an exception or a timeout, not a 4xx/5xx it answered).
resource "aws_cloudwatch_metric_alarm" "proxy_errors" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-proxy-errors"
  alarm_description   = "The proxy function ${local.lambda_function_name} failed invocations (exception or timeout) in 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.proxy[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The proxy hit its reserved concurrency (lambda_reserved_concurrency): callers got 429/503.
# API Gateway's own throttling (api_throttle_*) shows as 429s in its 4xx metric, which also counts
# every unauthenticated 401, so it has no alarm of its own.
resource "aws_cloudwatch_metric_alarm" "proxy_throttles" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-proxy-throttles"
  alarm_description   = "The proxy function ${local.lambda_function_name} was throttled (reserved concurrency ${var.lambda_reserved_concurrency} reached) in 5 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.proxy[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The worker has run at worker_max_tasks for 15 minutes: the scaler has no room left. Measured on
# RunningTaskCount (Container Insights, the scaling metric's divisor), Minimum over each period:
# tasks really running at the ceiling for the whole time, not a desired count that may never
# start. If tasks cannot start at all, the oldest-message alarm fires instead. The threshold is at
# least 1 so that a stopped service (max 0) never reads as "at max".
resource "aws_cloudwatch_metric_alarm" "worker_at_max" {
  count = local.count

  alarm_name          = "${local.alarm_prefix}-worker-at-max"
  alarm_description   = "The worker service has run at its maximum of ${var.worker_max_tasks} task(s) for 15 minutes: raise worker_max_tasks or worker_cpu."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = aws_ecs_cluster.main[0].name, ServiceName = aws_ecs_service.worker[0].name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = max(var.worker_max_tasks, 1)
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # Container Insights publishes every minute while the service exists; a gap is not "at max"
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}
