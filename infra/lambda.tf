# The proxy: a Node.js Lambda (arm64) built by `ima-qs package lambda`, reachable through a
# function URL on the alias "live". It checks size and format, records the request digest (replay
# guard), enqueues the sealed request and serves the signed public-keys document. It holds no
# private key.
#
# Versions: every apply that changes the code or configuration publishes a new version and moves
# the alias to it; the URL and its permissions are on the alias, so `ima-qs rollout rollback`
# reverts the proxy by pointing the alias at the previous version (UpdateAlias, instantaneous).
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

# The alias clients reach (through the URL below) and rollback moves: always the version this
# apply published.
resource "aws_lambda_alias" "live" {
  count = local.count

  name             = local.lambda_alias_name
  description      = "ima-qs proxy: the version the function URL serves"
  function_name    = aws_lambda_function.proxy[0].function_name
  function_version = aws_lambda_function.proxy[0].version
}

resource "aws_lambda_function_url" "proxy" {
  count = local.count

  function_name      = aws_lambda_function.proxy[0].function_name
  qualifier          = aws_lambda_alias.live[0].name
  authorization_type = var.lambda_url_auth_type

  dynamic "cors" {
    for_each = length(var.lambda_url_allowed_origins) > 0 ? [1] : []
    content {
      allow_origins = var.lambda_url_allowed_origins
      allow_methods = ["GET", "POST"]
      allow_headers = ["content-type"]
      max_age       = 3600
    }
  }
}

# auth NONE: the URL is public (clients are browsers and backends without AWS credentials).
# What protects the service is not the URL's auth but the protocol: requests are sealed to the
# server's ML-KEM-768 + P-384 key, replay-checked, size-limited. Since October 2025 a new public
# function URL needs two resource-policy statements: InvokeFunctionUrl (below) and InvokeFunction.
resource "aws_lambda_permission" "url_public" {
  count = local.enabled && var.lambda_url_auth_type == "NONE" ? 1 : 0

  statement_id           = "FunctionURLAllowPublicAccess"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.proxy[0].function_name
  qualifier              = aws_lambda_alias.live[0].name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# The second statement. AWS scopes it with the condition lambda:InvokedViaFunctionUrl = true;
# the AWS provider 5.x has no argument for that condition (aws_lambda_permission gained
# invoked_via_function_url after 5.100), so here it is unconditioned: any AWS principal may also
# call Invoke on the proxy directly. The proxy treats such an event exactly like a URL request
# (it trusts nothing in the event but the sealed body). Set lambda_url_auth_type = "AWS_IAM"
# to avoid both statements.
resource "aws_lambda_permission" "url_public_invoke" {
  count = local.enabled && var.lambda_url_auth_type == "NONE" ? 1 : 0

  statement_id  = "FunctionURLAllowInvokeAction"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.proxy[0].function_name
  qualifier     = aws_lambda_alias.live[0].name
  principal     = "*"
}
