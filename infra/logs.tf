# Log groups, created before the function and the service so that retention and encryption
# apply from the first line (Lambda would otherwise create its group with no retention).

resource "aws_cloudwatch_log_group" "lambda" {
  count = local.count

  name              = local.lambda_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main[0].arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "worker" {
  count = local.count

  name              = local.worker_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main[0].arn
  tags              = local.tags
}
