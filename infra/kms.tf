# The customer-managed key that encrypts the key secrets, the three tables, the queues and the
# log groups. Rotation on (yearly, automatic). The key policy is the only place where
# Resource = "*" appears: inside a key policy "*" means "this key" (AWS KMS key policies,
# "Resource" element); it grants nothing on any other resource.

resource "aws_kms_key" "main" {
  count = local.count

  description             = "ima-qs quantum-safe black box: key secrets, tables, queues, logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  key_usage               = "ENCRYPT_DECRYPT"
  policy                  = data.aws_iam_policy_document.kms_key[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "main" {
  count = local.count

  name          = local.kms_alias_name
  target_key_id = aws_kms_key.main[0].key_id
}

data "aws_iam_policy_document" "kms_key" {
  count = local.count

  # Key administration by the account (IAM policies in the account decide who): without this
  # statement the key becomes unmanageable. Listed explicitly, no kms:*; no Decrypt here, so an
  # account principal reads secrets only through the statements below. No CreateGrant here either:
  # a grant can give Decrypt, so an administrator could grant itself the private keys.
  statement {
    sid    = "AccountAdministersKey"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListAliases",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListKeyRotations",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RevokeGrant",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]
  }

  # Grants only for AWS services acting for an account principal: DynamoDB creates one when a
  # table is created or restored under this key (and uses it for the table key). A principal can
  # never create a grant for itself (kms:GrantIsForAWSResource is true only when an integrated AWS
  # service calls CreateGrant).
  statement {
    sid    = "AccountCreatesGrantsForAwsServicesOnly"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    actions   = ["kms:CreateGrant"]
    resources = ["*"]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  # The proxy and the worker use the key only through Secrets Manager, DynamoDB and SQS.
  statement {
    sid    = "ServiceRolesUseKeyViaServices"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.lambda[0].arn, aws_iam_role.worker_task[0].arn]
    }
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_services
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }

  # Operators who upload the private keys (`ima-qs keys upload`): encrypt through Secrets Manager
  # only. They cannot decrypt the private keys with this key (the custody rule, custody.tf).
  dynamic "statement" {
    for_each = length(var.key_operator_arns) > 0 ? [1] : []
    content {
      sid    = "OperatorsUploadKeysViaSecretsManager"
      effect = "Allow"
      principals {
        type        = "AWS"
        identifiers = var.key_operator_arns
      }
      actions   = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  # Key recovery (custody.tf): the break-glass role decrypts, through Secrets Manager only.
  dynamic "statement" {
    for_each = aws_iam_role.break_glass
    content {
      sid    = "BreakGlassDecryptsViaSecretsManager"
      effect = "Allow"
      principals {
        type        = "AWS"
        identifiers = [statement.value.arn]
      }
      actions   = ["kms:Decrypt", "kms:DescribeKey"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  # CloudWatch Logs encrypts the two log groups (and only those: the encryption context names them).
  statement {
    sid    = "CloudWatchLogsEncryptsTheLogGroups"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.lambda_log_group_arn, local.worker_log_group_arn]
    }
  }
}
