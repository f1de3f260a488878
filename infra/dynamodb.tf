# The three tables: on-demand, point-in-time recovery, encrypted with the customer-managed key,
# deletion protection in prod.

resource "aws_dynamodb_table" "audit_log" {
  count = local.count

  # One item per audit entry: `chain` names the hash chain (one per worker/anchor),
  # `seq` is its position. Appends are conditional puts on (chain, seq) (SPEC, audit entry).
  name                        = local.audit_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "chain"
  range_key                   = "seq"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "chain"
    type = "S"
  }
  attribute {
    name = "seq"
    type = "N"
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main[0].arn
  }
  tags = local.tags
}

resource "aws_dynamodb_table" "decisions" {
  count = local.count

  # Sealed decisions (each with 22 ML-DSA-87 signatures, ~100 KB), one item per request:
  # `id` = the request handle (SHA3-256 of the sealed body), SPEC §8.2. The worker writes `ttl`
  # (epoch seconds, decided_at + 24 h); DynamoDB honours it only with decisions_ttl_enabled.
  name                        = local.decisions_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "id"
    type = "S"
  }

  dynamic "ttl" {
    for_each = var.decisions_ttl_enabled ? [1] : []
    content {
      attribute_name = "ttl"
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main[0].arn
  }
  tags = local.tags
}

resource "aws_dynamodb_table" "requests" {
  count = local.count

  # Replay guard (SPEC §8.2): `id` = "req#<handle>" written by the proxy with attribute_not_exists,
  # and "rid#<request_id>" claimed by the worker; both carry `ttl` (epoch seconds) and expire, so
  # the table stays small (the proxy also treats an expired item as absent).
  name                        = local.requests_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main[0].arn
  }
  tags = local.tags
}
