# Signed checkpoints of the audit chains, outside the audit table (SPEC 8.11, issue 14).
#
# The worker registers each chain and writes, every N entries / S seconds and at stop, a
# checkpoint of its chain heads signed with the separate audit key. They go to this bucket:
#   - versioning + Object Lock in COMPLIANCE mode with a default retention: every version of every
#     object is locked for checkpoint_retention_days; nobody - not the worker, not an account
#     administrator, not the root user - can delete or overwrite a locked version before then. A
#     second PUT of a key is a new version and a DELETE without a version id only adds a delete
#     marker: `ima-qs audit verify --checkpoints` reads every version and reports both;
#   - a bucket policy that denies deleting objects or versions, bypassing governance retention,
#     changing the lock configuration, the retention or legal hold of an object, and suspending
#     versioning, to every principal but the break-glass role (local.break_glass_role_arn);
#   - SSE-KMS with the module's key (bucket key on), public access blocked, objects owned by the
#     bucket owner (no ACLs).
# The worker may only PUT (and read back) objects under registry/ and checkpoints/ (iam.tf).
# Object Lock can only be turned on when a bucket is created; the retention cannot be shortened
# for versions already written.

resource "aws_s3_bucket" "checkpoints" {
  count = local.count

  bucket              = local.checkpoint_bucket_name
  object_lock_enabled = true
  force_destroy       = false
  tags                = local.tags
}

resource "aws_s3_bucket_versioning" "checkpoints" {
  count = local.count

  bucket = aws_s3_bucket.checkpoints[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "checkpoints" {
  count = local.count

  bucket = aws_s3_bucket.checkpoints[0].id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.checkpoint_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.checkpoints]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "checkpoints" {
  count = local.count

  bucket = aws_s3_bucket.checkpoints[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "checkpoints" {
  count = local.count

  bucket                  = aws_s3_bucket.checkpoints[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "checkpoints" {
  count = local.count

  bucket = aws_s3_bucket.checkpoints[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# A resource policy: Principal "*" with a condition on aws:PrincipalArn covers every caller,
# whatever IAM policy it holds. Object Lock (compliance) is the first lock - it holds even against
# this policy being rewritten; this policy also keeps delete markers and lock changes away.
data "aws_iam_policy_document" "checkpoint_bucket" {
  count = local.count

  statement {
    sid    = "NoDeletesNoLockChangesButBreakGlass"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions = [
      "s3:BypassGovernanceRetention",
      "s3:DeleteBucket",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutBucketVersioning",
      "s3:PutObjectLegalHold",
      "s3:PutObjectRetention",
    ]
    resources = [aws_s3_bucket.checkpoints[0].arn, "${aws_s3_bucket.checkpoints[0].arn}/*"]
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [local.break_glass_role_arn]
    }
  }

  statement {
    sid    = "TlsOnly"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions", "s3:PutObject"]
    resources = [aws_s3_bucket.checkpoints[0].arn, "${aws_s3_bucket.checkpoints[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "checkpoints" {
  count = local.count

  bucket = aws_s3_bucket.checkpoints[0].id
  policy = data.aws_iam_policy_document.checkpoint_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.checkpoints]
}

# Auditors (`ima-qs audit verify --checkpoints s3://...`): read every version of the bucket and the
# audit table. A customer-managed policy to attach to the people and roles who audit; it reads no
# secret and writes nothing.
data "aws_iam_policy_document" "audit_reader" {
  count = local.count

  statement {
    sid       = "ListCheckpointVersions"
    effect    = "Allow"
    actions   = ["s3:ListBucketVersions"]
    resources = [aws_s3_bucket.checkpoints[0].arn]
  }

  statement {
    sid       = "ReadCheckpointVersions"
    effect    = "Allow"
    actions   = ["s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.checkpoints[0].arn}/*"]
  }

  statement {
    sid       = "ReadAuditTable"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [aws_dynamodb_table.audit_log[0].arn]
  }

  statement {
    sid       = "DecryptThroughS3AndDynamoDb"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "audit_reader" {
  count = local.count

  name        = "${var.name_prefix}-quantum-audit-reader"
  description = "ima-qs auditors: read the audit table and every version of the checkpoint bucket (audit verify --checkpoints)"
  policy      = data.aws_iam_policy_document.audit_reader[0].json
  tags        = local.tags
}
