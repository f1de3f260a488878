# Who may call the proxy: an API Gateway HTTP API in front of the Lambda alias "live".
#
#   - every route needs a JWT (Authorization: Bearer <token>) from var.api_jwt_issuer with one of
#     var.api_jwt_audiences: API Gateway checks signature, issuer, audience and expiry before the
#     Lambda runs (an unauthenticated call costs no invocation and gets 401);
#   - throttling per route (token bucket: rate per second, burst), stage-wide for all callers
#     together: HTTP APIs have no per-caller quota (usage plans are REST-API-only), so the quota
#     per caller is the identity provider's to enforce (who gets tokens, for how long);
#   - CORS for a browser frontend from var.api_cors_allowed_origins (API Gateway answers the
#     preflight itself; the Authorization header is allowed);
#   - the Lambda permission names API Gateway as the principal and this API's execution ARN as the
#     source (no principal "*", no function URL).
# The proxy handler reads the HTTP API payload format 2.0 (src/service/proxy/apigw.ts); the
# $default stage keeps rawPath = /api/... (a named stage would prefix it).

locals {
  # the proxy's routes (src/service/proxy/handler.ts; SPEC 8.2)
  api_routes = {
    keys     = "GET /api/keys"
    analyze  = "POST /api/analyze"
    patents  = "POST /api/patents"
    decision = "GET /api/decisions/{handle}"
  }
  # submitting a request costs the worker a decision: its own, lower bucket
  api_submit_routes = ["POST /api/analyze", "POST /api/patents"]
  # the browser page (SPEC 10): three static files, public like any web page (a visitor has no
  # token before the page has loaded); the proxy serves nothing else on these routes and the page
  # itself calls /api/* with the JWT. Keyed by the path the invoke permission names.
  page_routes = {
    ""           = "GET /"
    "index.html" = "GET /index.html"
    "app.js"     = "GET /app.js"
    "app.css"    = "GET /app.css"
  }
}

resource "aws_apigatewayv2_api" "proxy" {
  count = local.count

  name          = "${var.name_prefix}-quantum-proxy"
  description   = "ima-qs quantum-safe proxy: JWT-authenticated, throttled"
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = length(var.api_cors_allowed_origins) > 0 ? [1] : []
    content {
      allow_origins     = var.api_cors_allowed_origins
      allow_methods     = ["GET", "POST"]
      allow_headers     = ["authorization", "content-type"]
      allow_credentials = false
      max_age           = 3600
    }
  }

  tags = local.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = local.count

  api_id           = aws_apigatewayv2_api.proxy[0].id
  name             = "jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.api_jwt_issuer
    audience = var.api_jwt_audiences
  }

  lifecycle {
    precondition {
      condition     = var.api_jwt_issuer != null && length(var.api_jwt_audiences) > 0
      error_message = "the proxy API authenticates every caller: set api_jwt_issuer (the OIDC issuer URL, e.g. a Cognito user pool https://cognito-idp.REGION.amazonaws.com/POOL_ID) and api_jwt_audiences (its client ids)."
    }
  }
}

resource "aws_apigatewayv2_integration" "proxy" {
  count = local.count

  api_id                 = aws_apigatewayv2_api.proxy[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_alias.live[0].invoke_arn
  payload_format_version = "2.0"
  # HTTP APIs cut an integration at 30 s; the proxy stops a long poll 1 s before its own timeout
  timeout_milliseconds = 30000
}

resource "aws_apigatewayv2_route" "proxy" {
  for_each = local.enabled ? local.api_routes : {}

  api_id               = aws_apigatewayv2_api.proxy[0].id
  route_key            = each.value
  target               = "integrations/${aws_apigatewayv2_integration.proxy[0].id}"
  authorization_type   = "JWT"
  authorizer_id        = aws_apigatewayv2_authorizer.jwt[0].id
  authorization_scopes = length(var.api_jwt_scopes) > 0 ? var.api_jwt_scopes : null
}

# The page's static files: no authorizer (see page_routes); GET only.
resource "aws_apigatewayv2_route" "page" {
  for_each = local.enabled ? local.page_routes : {}

  api_id             = aws_apigatewayv2_api.proxy[0].id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.proxy[0].id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_stage" "default" {
  count = local.count

  api_id      = aws_apigatewayv2_api.proxy[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttle_rate_limit
    throttling_burst_limit = var.api_throttle_burst_limit
  }

  dynamic "route_settings" {
    for_each = toset(local.api_submit_routes)
    content {
      route_key              = route_settings.value
      throttling_rate_limit  = var.api_submit_rate_limit
      throttling_burst_limit = var.api_submit_burst_limit
    }
  }

  tags = local.tags

  # route_settings name routes: they must exist first
  depends_on = [aws_apigatewayv2_route.proxy, aws_apigatewayv2_route.page]
}

# API Gateway (this API, its $default stage, any method, /api/...) may invoke the alias "live";
# nothing else may (no principal "*").
resource "aws_lambda_permission" "api" {
  count = local.count

  statement_id  = "HttpApiInvokesLive"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.proxy[0].function_name
  qualifier     = aws_lambda_alias.live[0].name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.proxy[0].execution_arn}/*/*/api/*"
}

# ... and GET each of the page's files, by its exact path.
resource "aws_lambda_permission" "page" {
  for_each = local.enabled ? local.page_routes : {}

  statement_id  = "HttpApiServesPage-${each.key == "" ? "root" : replace(each.key, ".", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.proxy[0].function_name
  qualifier     = aws_lambda_alias.live[0].name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.proxy[0].execution_arn}/*/GET/${each.key}"
}
