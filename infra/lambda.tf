# The proxy: a Node.js Lambda (arm64) built by `ima-qs package lambda`, reachable only through
# the HTTP API in api.tf (JWT-authenticated callers, throttled routes) which invokes the alias
# "live". It checks size and format, records the request digest (replay guard), enqueues the sealed
# request and serves the signed public-keys document. It holds no private key. There is no
# function URL: a public URL needs a resource-policy statement for every caller (principal "*").
#
# Versions: every apply that changes the code or configuration publishes a new version and moves
# the alias to it; the API's integration and the invoke permission are on the alias, so `ima-qs
# rollout rollback` reverts the proxy by pointing the alias at the previous version (UpdateAlias).
# After such a rollback, the next `terraform apply` moves the alias forward again: fix or revert
# the code first.

resource "aws_lambda_function" "proxy" {
  count = local.count

  function_name = local.lambda_function_name
  description   = "ima-qs quantum-safe proxy (sealed requests -> SQS)"
  role          = aws_iam_role.lambda[0].arn
  # nodejs22.x (Node 22 LTS, supported into 2027): the AWS provider 5.100.0 refuses nodejs24.x
  # in its runtime validation (checked with terraform test); move to nodejs24.x with provider 6.
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = var.lambda_handler
  filename         = var.lambda_zip_path
  source_code_hash = var.lambda_zip_path == null ? null : filebase64sha256(var.lambda_zip_path)
  publish          = true
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_seconds
  # A cap on what callers can make this function cost and a floor for it under load elsewhere in
  # the account. A held long poll (?wait=S) keeps one instance busy for up to S seconds, so size it
  # as requests/s x mean duration (README, "Who may call the proxy").
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  # Names only, no secret: the function reads the public-keys document at run time. Exactly the
  # variables the proxy reads (SPEC §8.8, src/service/wiring.ts proxyFromEnv).
  environment {
    variables = {
      QUEUE_URL          = aws_sqs_queue.requests[0].url
      REQUESTS_TABLE     = aws_dynamodb_table.requests[0].name
      DECISIONS_TABLE    = aws_dynamodb_table.decisions[0].name
      PUBLIC_KEYS_SECRET = aws_secretsmanager_secret.public_keys[0].name
      # stack traces through index.mjs.map when the zip has one (`ima-qs package lambda --sourcemap`)
      NODE_OPTIONS = "--enable-source-maps"
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda[0].name
  }

  tags = local.tags

  # The role's policy must exist before the first invocation can write logs or enqueue.
  depends_on = [aws_iam_role_policy.lambda]

  lifecycle {
    precondition {
      condition     = var.lambda_zip_path != null
      error_message = "lambda_zip_path is required when quantum_safe_enabled = true: build it with `ima-qs package lambda -o dist/lambda.zip`."
    }
  }
}

# The alias the API invokes and rollback moves: always the version this apply published.
resource "aws_lambda_alias" "live" {
  count = local.count

  name             = local.lambda_alias_name
  description      = "ima-qs proxy: the version the HTTP API invokes"
  function_name    = aws_lambda_function.proxy[0].function_name
  function_version = aws_lambda_function.proxy[0].version
}
