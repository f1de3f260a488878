# Plans and "applies" the module against a mocked AWS provider (no AWS account, no network):
# checks what the module would create with quantum_safe_enabled = true and false, and that the
# TPM choice is never silent. Run: terraform init -plugin-dir=... && terraform test

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
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::ima-quantum-audit-checkpoints-123456789012" }
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

run "enabled_creates_the_stack" {
  command = apply

  assert {
    condition     = aws_kms_key.main[0].enable_key_rotation == true
    error_message = "KMS key rotation must be on"
  }
  assert {
    condition     = aws_kms_alias.main[0].name == "alias/ima-quantum"
    error_message = "KMS alias must be alias/ima-quantum"
  }
  assert {
    condition = toset([for s in aws_secretsmanager_secret.private_key : s.name]) == toset([
      "ima/quantum/keyset",
    ])
    error_message = "the key-set secret must carry the name ima-qs keys upload writes"
  }
  assert {
    condition     = aws_secretsmanager_secret.public_keys[0].name == "ima/quantum/public-keys"
    error_message = "public-keys secret name"
  }
  assert {
    condition = alltrue([for t in [aws_dynamodb_table.audit_log[0], aws_dynamodb_table.decisions[0], aws_dynamodb_table.requests[0]] :
      t.billing_mode == "PAY_PER_REQUEST" && t.point_in_time_recovery[0].enabled && t.server_side_encryption[0].enabled
    && t.server_side_encryption[0].kms_key_arn == aws_kms_key.main[0].arn])
    error_message = "every table: on-demand, PITR, SSE with the module's KMS key"
  }
  assert {
    condition     = [aws_dynamodb_table.audit_log[0].name, aws_dynamodb_table.decisions[0].name, aws_dynamodb_table.requests[0].name] == ["ima-tpm-audit-log", "ima-quantum-decisions", "ima-quantum-requests"]
    error_message = "table names must be the seed's"
  }
  assert {
    condition     = aws_dynamodb_table.requests[0].ttl[0].enabled && aws_dynamodb_table.requests[0].ttl[0].attribute_name == "ttl"
    error_message = "requests table needs TTL on ttl (the attribute the service writes)"
  }
  assert {
    condition     = aws_dynamodb_table.requests[0].hash_key == "id" && aws_dynamodb_table.decisions[0].hash_key == "id"
    error_message = "requests and decisions tables are keyed by id (SPEC 8.2)"
  }
  assert {
    condition     = aws_dynamodb_table.audit_log[0].deletion_protection_enabled == false
    error_message = "deletion protection is for prod only"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.requests[0].redrive_policy).maxReceiveCount == 5
    error_message = "redrive to the DLQ after 5 receives"
  }
  assert {
    condition     = aws_sqs_queue.requests[0].receive_wait_time_seconds == 20 && aws_sqs_queue.requests[0].kms_master_key_id == aws_kms_key.main[0].arn
    error_message = "queue: long polling and KMS encryption"
  }
  assert {
    condition     = aws_sqs_queue.requests_dlq[0].message_retention_seconds == 1209600
    error_message = "DLQ keeps messages 14 days"
  }
  assert {
    condition     = aws_cloudwatch_log_group.lambda[0].retention_in_days == 90 && aws_cloudwatch_log_group.worker[0].retention_in_days == 90
    error_message = "log groups need a retention"
  }
  assert {
    condition     = contains(["nodejs22.x", "nodejs24.x"], aws_lambda_function.proxy[0].runtime) && aws_lambda_function.proxy[0].architectures == tolist(["arm64"])
    error_message = "proxy: current Node runtime on arm64"
  }
  assert {
    condition     = aws_lambda_function.proxy[0].environment[0].variables.PUBLIC_KEYS_SECRET == "ima/quantum/public-keys"
    error_message = "proxy must be told the public-keys secret"
  }
  assert {
    condition = keys(aws_lambda_function.proxy[0].environment[0].variables) == tolist(["DECISIONS_TABLE", "NODE_OPTIONS", "PUBLIC_KEYS_SECRET", "QUEUE_URL", "REQUESTS_TABLE"]) && (
      aws_lambda_function.proxy[0].environment[0].variables.QUEUE_URL == aws_sqs_queue.requests[0].url
      && aws_lambda_function.proxy[0].environment[0].variables.REQUESTS_TABLE == "ima-quantum-requests"
    && aws_lambda_function.proxy[0].environment[0].variables.DECISIONS_TABLE == "ima-quantum-decisions")
    error_message = "proxy environment: exactly the names the service reads (SPEC 8.8)"
  }
  assert {
    condition     = aws_lambda_function.proxy[0].publish == true && aws_lambda_alias.live[0].name == "live" && aws_lambda_alias.live[0].function_version == "7"
    error_message = "the alias live points at the version this apply published"
  }
  assert {
    condition     = aws_lambda_permission.api[0].qualifier == "live" && aws_apigatewayv2_integration.proxy[0].integration_uri == aws_lambda_alias.live[0].invoke_arn
    error_message = "the API invokes the alias and its permission is on the alias (rollback moves the alias)"
  }
  assert {
    condition = (aws_lambda_permission.api[0].principal == "apigateway.amazonaws.com"
      && aws_lambda_permission.api[0].action == "lambda:InvokeFunction"
    && aws_lambda_permission.api[0].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:abc123/*/*/api/*")
    error_message = "lambda:InvokeFunction only for API Gateway, only from this API (source_arn)"
  }
  assert {
    condition     = length(aws_lambda_permission.api) == 1
    error_message = "one invoke permission (the function URL is gone: the static checks refuse one)"
  }
  assert {
    condition = (length(aws_apigatewayv2_route.proxy) == 4 && alltrue([for r in aws_apigatewayv2_route.proxy :
    r.authorization_type == "JWT" && r.authorizer_id == "jwt123" && r.target == "integrations/int123"]))
    error_message = "every route of the proxy API needs a JWT from the authorizer"
  }
  assert {
    condition = (toset([for r in aws_apigatewayv2_route.proxy : r.route_key]) == toset([
      "GET /api/keys", "POST /api/analyze", "POST /api/patents", "GET /api/decisions/{handle}",
    ]))
    error_message = "the API has exactly the proxy's routes"
  }
  assert {
    condition = (aws_apigatewayv2_authorizer.jwt[0].authorizer_type == "JWT"
      && aws_apigatewayv2_authorizer.jwt[0].jwt_configuration[0].issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
      && aws_apigatewayv2_authorizer.jwt[0].jwt_configuration[0].audience == toset(["client-id-1"])
    && aws_apigatewayv2_authorizer.jwt[0].identity_sources == toset(["$request.header.Authorization"]))
    error_message = "JWT authorizer: the configured issuer and audience, token from the Authorization header"
  }
  assert {
    condition = (aws_apigatewayv2_stage.default[0].name == "$default"
      && aws_apigatewayv2_stage.default[0].default_route_settings[0].throttling_rate_limit == 200
      && aws_apigatewayv2_stage.default[0].default_route_settings[0].throttling_burst_limit == 400
      && length(aws_apigatewayv2_stage.default[0].route_settings) == 2
    && alltrue([for s in aws_apigatewayv2_stage.default[0].route_settings : s.throttling_rate_limit == 100 && s.throttling_burst_limit == 200]))
    error_message = "throttling: every route (200/s, burst 400), the two POST routes lower (100/s, burst 200)"
  }
  assert {
    condition     = aws_lambda_function.proxy[0].reserved_concurrent_executions == 100
    error_message = "the proxy has reserved concurrency"
  }
  assert {
    condition     = length(aws_apigatewayv2_api.proxy[0].cors_configuration) == 0
    error_message = "no CORS unless origins are named"
  }
  assert {
    condition     = output.api_endpoint == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    error_message = "output api_endpoint is the API's URL"
  }
  assert {
    condition     = length(aws_secretsmanager_secret_policy.private_key) == 1 && alltrue([for p in aws_secretsmanager_secret_policy.private_key : p.block_public_policy])
    error_message = "every private-key secret has its resource policy"
  }
  assert {
    condition     = length(aws_iam_role.break_glass) == 0 && output.role_arns.break_glass == null
    error_message = "no break-glass role unless principals are named"
  }
  assert {
    condition     = output.lambda_alias_name == "live" && output.lambda_function_name == "ima-quantum-proxy" && output.lambda_published_version == "7"
    error_message = "outputs ima-qs rollout reads: lambda_alias_name, lambda_function_name"
  }
  assert {
    condition = { for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.name => e.value } == {
      AWS_REGION               = "eu-west-1"
      QUEUE_URL                = aws_sqs_queue.requests[0].url
      REQUESTS_TABLE           = "ima-quantum-requests"
      DECISIONS_TABLE          = "ima-quantum-decisions"
      AUDIT_TABLE              = "ima-tpm-audit-log"
      KEYS_SECRET_PREFIX       = "ima/quantum"
      IMA_QS_PCR_ANCHOR        = "simulated:/tmp/ima-qs-pcr-simulated.json"
      PCR_INDEX                = "11"
      VISIBILITY_SECONDS       = "60"
      WORKER_PIPELINES         = "1"
      STOP_GRACE_SECONDS       = "20"
      AUDIT_CHECKPOINTS        = "s3://ima-quantum-audit-checkpoints-123456789012"
      AUDIT_CHECKPOINT_ENTRIES = "1000"
      AUDIT_CHECKPOINT_SECONDS = "60"
    }
    error_message = "Fargate worker (none-explicit): the service's variable names, the labelled simulated anchor in /tmp, no TPM2TOOLS_TCTI, no PCR lock file, one pipeline per vCPU, checkpoints to the Object Lock bucket"
  }
  assert {
    condition     = length(aws_ecs_task_definition.worker[0].volume) == 1 && length(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].mountPoints) == 1
    error_message = "Fargate worker: only the /tmp scratch volume (no host path)"
  }
  assert {
    condition = (aws_s3_bucket.checkpoints[0].object_lock_enabled == true
      && aws_s3_bucket_versioning.checkpoints[0].versioning_configuration[0].status == "Enabled"
      && aws_s3_bucket_object_lock_configuration.checkpoints[0].rule[0].default_retention[0].mode == "COMPLIANCE"
      && aws_s3_bucket_object_lock_configuration.checkpoints[0].rule[0].default_retention[0].days == 365
      && one(aws_s3_bucket_server_side_encryption_configuration.checkpoints[0].rule[*].apply_server_side_encryption_by_default[0].sse_algorithm) == "aws:kms"
    && output.checkpoint_bucket == "ima-quantum-audit-checkpoints-123456789012")
    error_message = "checkpoint bucket: object lock in compliance mode (365 days by default), versioning, SSE-KMS"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].healthCheck.command == ["CMD", "node", "/app/health.mjs"]
    error_message = "worker health check runs health.mjs (ECS ignores the image's HEALTHCHECK)"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].readonlyRootFilesystem == true && jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].user == "1000:1000"
    error_message = "worker: read-only root fs, non-root user"
  }
  assert {
    condition     = aws_ecs_service.worker[0].launch_type == "FARGATE" && !can(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].linuxParameters.devices)
    error_message = "Fargate worker has no device mapping"
  }
  assert {
    condition     = output.table_names.requests == "ima-quantum-requests" && output.kms_alias_name == "alias/ima-quantum" && output.audit_anchor == "none-explicit"
    error_message = "outputs the CLI reads"
  }
}

run "checkpoint_retention_is_a_variable" {
  command = plan
  variables {
    checkpoint_retention_days = 3650
  }

  assert {
    condition     = aws_s3_bucket_object_lock_configuration.checkpoints[0].rule[0].default_retention[0].days == 3650
    error_message = "checkpoint_retention_days sets the Object Lock retention"
  }
}

run "checkpoint_retention_zero_is_refused" {
  command = plan
  variables {
    checkpoint_retention_days = 0
  }
  expect_failures = [var.checkpoint_retention_days]
}

run "prod_turns_on_deletion_protection" {
  command = plan
  variables {
    environment = "prod"
  }
  assert {
    condition     = aws_dynamodb_table.audit_log[0].deletion_protection_enabled && aws_dynamodb_table.decisions[0].deletion_protection_enabled && aws_dynamodb_table.requests[0].deletion_protection_enabled
    error_message = "prod tables are deletion-protected"
  }
  assert {
    condition     = aws_secretsmanager_secret.public_keys[0].recovery_window_in_days == 30
    error_message = "prod secrets keep a 30-day recovery window"
  }
}

run "ec2_with_nitrotpm_maps_the_tpm_device" {
  command = plan
  variables {
    worker_launch_type         = "EC2"
    ec2_capacity_provider_name = "ima-nitrotpm"
    audit_anchor               = "tpm"
    worker_user                = "1000:59"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].linuxParameters.devices[0].hostPath == "/dev/tpmrm0"
    error_message = "EC2 + tpm maps /dev/tpmrm0"
  }
  assert {
    condition = [for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.value if contains(["IMA_QS_PCR_ANCHOR", "TPM2TOOLS_TCTI", "PCR_INDEX"], e.name)] == [
      "tpm", "11", "device:/dev/tpmrm0",
    ]
    error_message = "EC2 + tpm: IMA_QS_PCR_ANCHOR=tpm, TPM2TOOLS_TCTI=device:/dev/tpmrm0 (tpm2-tools), PCR_INDEX"
  }
  assert {
    condition = (
      [for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.value if e.name == "PCR_LOCK_FILE"] == ["/run/ima-qs/pcr.lock"]
      && [for v in aws_ecs_task_definition.worker[0].volume : v.host_path if v.name == "pcr-lock"] == ["/run/ima-qs"]
      && contains([for m in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].mountPoints : m.containerPath if m.sourceVolume == "pcr-lock"], "/run/ima-qs")
    )
    error_message = "EC2 + tpm: the tasks of a host share one PCR lock file in a host folder (SPEC 8.7)"
  }
  assert {
    condition     = one(aws_ecs_service.worker[0].capacity_provider_strategy).capacity_provider == "ima-nitrotpm"
    error_message = "EC2 tasks go to the NitroTPM capacity provider"
  }
  assert {
    condition     = aws_ecs_task_definition.worker[0].requires_compatibilities == toset(["EC2"])
    error_message = "EC2 task definition"
  }
}

run "browser_origins_get_cors_with_the_authorization_header" {
  command = plan
  variables {
    api_cors_allowed_origins = ["https://app.example.com"]
  }
  assert {
    condition = (aws_apigatewayv2_api.proxy[0].cors_configuration[0].allow_origins == toset(["https://app.example.com"])
    && contains(aws_apigatewayv2_api.proxy[0].cors_configuration[0].allow_headers, "authorization"))
    error_message = "CORS for the named origins, Authorization header allowed"
  }
}

run "break_glass_role_for_named_principals" {
  command = plan
  variables {
    break_glass_principal_arns = ["arn:aws:iam::123456789012:role/security-oncall"]
  }
  assert {
    condition     = aws_iam_role.break_glass[0].name == "ima-quantum-break-glass" && aws_iam_role.break_glass[0].max_session_duration == 3600
    error_message = "the break-glass role exists when principals are named"
  }
}

run "break_glass_refuses_the_account_root" {
  command = plan
  variables {
    break_glass_principal_arns = ["arn:aws:iam::123456789012:root"]
  }
  expect_failures = [var.break_glass_principal_arns]
}

run "api_needs_a_jwt_issuer" {
  command = plan
  variables {
    api_jwt_issuer = null
  }
  expect_failures = [aws_apigatewayv2_authorizer.jwt]
}

run "api_needs_an_audience" {
  command = plan
  variables {
    api_jwt_audiences = []
  }
  expect_failures = [aws_apigatewayv2_authorizer.jwt]
}

run "reserved_concurrency_zero_is_refused" {
  command = plan
  variables {
    lambda_reserved_concurrency = 0
  }
  expect_failures = [var.lambda_reserved_concurrency]
}

run "fargate_with_tpm_is_refused" {
  command = plan
  variables {
    audit_anchor = "tpm"
  }
  expect_failures = [aws_ecs_service.worker]
}

run "audit_anchor_must_be_chosen" {
  command = plan
  variables {
    audit_anchor = null
  }
  expect_failures = [aws_ecs_service.worker]
}

run "unknown_environment_is_refused" {
  command = plan
  variables {
    environment = "qa"
  }
  expect_failures = [var.environment]
}

run "disabled_creates_nothing" {
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
    condition = (length(aws_kms_key.main) + length(aws_secretsmanager_secret.private_key) + length(aws_dynamodb_table.audit_log)
      + length(aws_dynamodb_table.decisions) + length(aws_dynamodb_table.requests) + length(aws_sqs_queue.requests)
      + length(aws_lambda_function.proxy) + length(aws_ecs_service.worker) + length(aws_iam_role.lambda)
      + length(aws_cloudwatch_log_group.worker) + length(aws_apigatewayv2_api.proxy) + length(aws_apigatewayv2_route.proxy)
      + length(aws_lambda_permission.api) + length(aws_iam_policy.key_operator) + length(aws_secretsmanager_secret_policy.private_key)
    + length(aws_s3_bucket.checkpoints) + length(aws_s3_bucket_policy.checkpoints) + length(aws_iam_policy.audit_reader)) == 0
    error_message = "quantum_safe_enabled = false must create nothing"
  }
  assert {
    condition     = output.kms_key_arn == null && output.table_names == null && output.queue_url == null && output.checkpoint_bucket == null
    error_message = "outputs are null when disabled"
  }
}
