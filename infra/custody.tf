# Key custody: who may write, read and recover the private keys.
#
# The custody rule (infra/README.md, "Who may do what"):
#   - the worker task role is the only workload that reads the private-key secrets;
#   - operators (key_operator_arns, with the managed policy below attached) WRITE key material and
#     never decrypt it: they may put new secret versions, move stages and tag, and use the KMS key
#     through Secrets Manager to encrypt only (no kms:Decrypt in the key policy, no GetSecretValue
#     here, a Deny in each private-key secret's resource policy): `ima-qs keys upload|rotate|status`
#     compare the local key set with custody by the version ids DescribeSecret shows (a version's
#     id names its generation and statement digest, SPEC 7.1) and never read a value back;
#   - recovery (reading a private key back) is the break-glass role's alone: assumable only by
#     break_glass_principal_arns with MFA, every use visible in CloudTrail.

# ---- operators: a customer-managed policy to attach to the principals in key_operator_arns -----

data "aws_iam_policy_document" "key_operator" {
  count = local.count

  # `ima-qs keys upload|rotate` (src/aws/key-custody.ts): describe the containers Terraform created,
  # put a generation as a version (the first into an empty container becomes AWSCURRENT; a rotation
  # stages AWSPENDING), move AWSCURRENT, remove AWSPENDING / AWSPREVIOUS, tag; the same for the
  # public-keys document. `keys status`: DescribeSecret only.
  statement {
    sid    = "WriteKeySecrets"
    effect = "Allow"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:PutSecretValue",
      "secretsmanager:TagResource",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = concat([for s in aws_secretsmanager_secret.private_key : s.arn], [aws_secretsmanager_secret.public_keys[0].arn])
  }

  # `keys upload` checks the key first (enabled, symmetric); Secrets Manager encrypts each new
  # version with a data key (GenerateDataKey) on the operator's behalf. No Decrypt: not even the
  # public-keys document is read back (it is encrypted under the same key; its version id is its
  # digest, and the document is served and verified at GET /api/keys).
  statement {
    sid       = "DescribeKey"
    effect    = "Allow"
    actions   = ["kms:DescribeKey"]
    resources = [aws_kms_key.main[0].arn]
  }

  statement {
    sid       = "EncryptThroughSecretsManager"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.main[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "key_operator" {
  count = local.count

  name        = "${var.name_prefix}-quantum-key-operator"
  description = "ima-qs key operators: upload key material (keys upload); never read a private key back"
  policy      = data.aws_iam_policy_document.key_operator[0].json
  tags        = local.tags
}

# ---- break-glass: key recovery, MFA, named principals only ----------------------------------------

data "aws_iam_policy_document" "break_glass_assume" {
  count = local.enabled && local.break_glass ? 1 : 0

  statement {
    sid     = "NamedPrincipalsWithMfa"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = var.break_glass_principal_arns
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role" "break_glass" {
  count = local.enabled && local.break_glass ? 1 : 0

  name                 = local.break_glass_role_name
  description          = "ima-qs break-glass: recover the private keys, repair the audit table (MFA; every use is in CloudTrail)"
  assume_role_policy   = data.aws_iam_policy_document.break_glass_assume[0].json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "break_glass" {
  count = local.enabled && local.break_glass ? 1 : 0

  # `ima-qs keys fetch` (src/aws/custody-fetch.ts): a generation of the key set read back.
  statement {
    sid       = "RecoverPrivateKeys"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.private_key : s.arn]
  }

  # The only DeleteItem on the audit table anywhere in this module: a deletion breaks the hash
  # chain, and `ima-qs audit verify` reports the gap.
  statement {
    sid       = "RepairAuditTable"
    effect    = "Allow"
    actions   = ["dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.audit_log[0].arn]
  }

  statement {
    sid       = "DecryptThroughSecretsManager"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "break_glass" {
  count = local.enabled && local.break_glass ? 1 : 0

  name   = "ima-qs-break-glass"
  role   = aws_iam_role.break_glass[0].id
  policy = data.aws_iam_policy_document.break_glass[0].json
}
