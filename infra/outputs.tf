# Everything the CLI (ima-qs keys upload, rollout, request) needs, read with `terraform output -json`.
# Every output is null when quantum_safe_enabled = false.

output "quantum_safe_enabled" {
  description = "Whether the stack exists."
  value       = var.quantum_safe_enabled
}

output "region" {
  description = "Region of every resource."
  value       = local.region
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key."
  value       = one(aws_kms_key.main[*].arn)
}

output "kms_key_id" {
  description = "Key id of the customer-managed key."
  value       = one(aws_kms_key.main[*].key_id)
}

output "kms_alias_name" {
  description = "Alias of the key."
  value       = one(aws_kms_alias.main[*].name)
}

output "keyset_secret_arn" {
  description = "ARN of the key-set secret (one version per key-set generation; SPEC 7.1)."
  value       = local.enabled ? aws_secretsmanager_secret.private_key["keyset"].arn : null
}

output "keyset_secret_name" {
  description = "Name of the key-set secret (ima-qs keys upload|rotate|status --prefix)."
  value       = local.enabled ? aws_secretsmanager_secret.private_key["keyset"].name : null
}

output "public_keys_secret_arn" {
  description = "ARN of the signed public-keys document secret."
  value       = one(aws_secretsmanager_secret.public_keys[*].arn)
}

output "public_keys_secret_name" {
  description = "Name of the signed public-keys document secret."
  value       = one(aws_secretsmanager_secret.public_keys[*].name)
}

output "table_names" {
  description = "DynamoDB tables: audit_log, decisions, requests -> name."
  value = local.enabled ? {
    audit_log = aws_dynamodb_table.audit_log[0].name
    decisions = aws_dynamodb_table.decisions[0].name
    requests  = aws_dynamodb_table.requests[0].name
  } : null
}

output "table_arns" {
  description = "DynamoDB tables: audit_log, decisions, requests -> ARN."
  value = local.enabled ? {
    audit_log = aws_dynamodb_table.audit_log[0].arn
    decisions = aws_dynamodb_table.decisions[0].arn
    requests  = aws_dynamodb_table.requests[0].arn
  } : null
}

output "queue_url" {
  description = "URL of the request queue."
  value       = one(aws_sqs_queue.requests[*].url)
}

output "queue_arn" {
  description = "ARN of the request queue."
  value       = one(aws_sqs_queue.requests[*].arn)
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = one(aws_sqs_queue.requests_dlq[*].url)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = one(aws_sqs_queue.requests_dlq[*].arn)
}

output "lambda_function_name" {
  description = "Name of the proxy function."
  value       = one(aws_lambda_function.proxy[*].function_name)
}

output "lambda_function_arn" {
  description = "ARN of the proxy function."
  value       = one(aws_lambda_function.proxy[*].arn)
}

output "api_endpoint" {
  description = "The proxy's HTTP API (JWT-authenticated): the --endpoint of `ima-qs request` (with --token)."
  value       = one(aws_apigatewayv2_api.proxy[*].api_endpoint)
}

output "api_id" {
  description = "Id of the proxy's HTTP API."
  value       = one(aws_apigatewayv2_api.proxy[*].id)
}

output "lambda_alias_name" {
  description = "Alias the function URL serves; `ima-qs rollout rollback` points it at the previous version."
  value       = one(aws_lambda_alias.live[*].name)
}

output "lambda_alias_arn" {
  description = "ARN of the alias (the qualified function ARN clients invoke)."
  value       = one(aws_lambda_alias.live[*].arn)
}

output "lambda_published_version" {
  description = "The version this apply published and the alias points at."
  value       = one(aws_lambda_function.proxy[*].version)
}

output "ecs_cluster_name" {
  description = "ECS cluster of the worker."
  value       = one(aws_ecs_cluster.main[*].name)
}

output "ecs_service_name" {
  description = "ECS service of the worker."
  value       = one(aws_ecs_service.worker[*].name)
}

output "ecs_task_definition_family" {
  description = "Task definition family of the worker."
  value       = one(aws_ecs_task_definition.worker[*].family)
}

output "ecs_task_definition_arn" {
  description = "Current task definition revision of the worker."
  value       = one(aws_ecs_task_definition.worker[*].arn)
}

output "log_group_names" {
  description = "CloudWatch log groups: lambda, worker -> name."
  value = local.enabled ? {
    lambda = aws_cloudwatch_log_group.lambda[0].name
    worker = aws_cloudwatch_log_group.worker[0].name
  } : null
}

output "role_arns" {
  description = "IAM roles: lambda, worker_task, worker_execution, break_glass (null without break_glass_principal_arns) -> ARN."
  value = local.enabled ? {
    lambda           = aws_iam_role.lambda[0].arn
    worker_task      = aws_iam_role.worker_task[0].arn
    worker_execution = aws_iam_role.worker_execution[0].arn
    break_glass      = one(aws_iam_role.break_glass[*].arn)
  } : null
}

output "key_operator_policy_arn" {
  description = "Managed policy to attach to the key operators (key_operator_arns): write key material, never read a private key."
  value       = one(aws_iam_policy.key_operator[*].arn)
}

output "worker_launch_type" {
  description = "FARGATE or EC2."
  value       = var.worker_launch_type
}

output "audit_anchor" {
  description = "\"tpm\" or \"none-explicit\": how the audit chain is anchored (the rollout reports it)."
  value       = var.audit_anchor
}

output "alarm_names" {
  description = "The CloudWatch alarms (alarms.tf), by what they watch: ima-qs rollout day 5 reads their states."
  value = local.enabled ? {
    dlq_not_empty        = aws_cloudwatch_metric_alarm.dlq_not_empty[0].alarm_name
    queue_oldest_message = aws_cloudwatch_metric_alarm.queue_oldest_message[0].alarm_name
    unanchored_entries   = aws_cloudwatch_metric_alarm.unanchored_entries[0].alarm_name
    proxy_5xx            = aws_cloudwatch_metric_alarm.api_5xx[0].alarm_name
    proxy_errors         = aws_cloudwatch_metric_alarm.proxy_errors[0].alarm_name
    proxy_throttles      = aws_cloudwatch_metric_alarm.proxy_throttles[0].alarm_name
    worker_at_max        = aws_cloudwatch_metric_alarm.worker_at_max[0].alarm_name
  } : null
}

output "worker_scaling" {
  description = "The worker's Application Auto Scaling target: min, max, and the backlog-per-task target."
  value = local.enabled ? {
    resource_id             = aws_appautoscaling_target.worker[0].resource_id
    min_tasks               = var.worker_min_tasks
    max_tasks               = var.worker_max_tasks
    backlog_per_task_target = var.backlog_per_task_target
  } : null
}

output "checkpoint_bucket" {
  description = "The Object Lock bucket of chain registrations and signed checkpoints (SPEC 8.11): ima-qs audit verify --checkpoints s3://<this>."
  value       = one(aws_s3_bucket.checkpoints[*].bucket)
}

output "audit_reader_policy_arn" {
  description = "Managed policy to attach to auditors: read the audit table and every checkpoint version (audit verify --checkpoints)."
  value       = one(aws_iam_policy.audit_reader[*].arn)
}
