# Key custody: who may write, read and recover the private keys.
#
# The custody rule (infra/README.md, "Who may do what"):
#   - the worker task role is the only workload that reads the private-key secrets;
#   - operators (key_operator_arns, with the managed policy below attached) WRITE key material and
#     never decrypt it: they may put new secret versions, move stages and tag, and use the KMS key
#     through Secrets Manager to encrypt only (no kms:Decrypt in the key policy, no GetSecretValue
#     here, a Deny in each private-key secret's resource policy); an upload is checked by the
#     fingerprints the secrets state (tags), not by reading the plaintext back (issue 15 moves
#     `ima-qs keys upload` to that; until then its read-back is refused under this policy);
#   - recovery (reading a private key back) is the break-glass role's alone: assumable only by
#     break_glass_principal_arns with MFA, every use visible in CloudTrail.

# ---- operators: a customer-managed policy to attach to the principals in key_operator_arns -----

data "aws_iam_policy_document" "key_operator" {
  count = local.count

  # `ima-qs keys upload`: describe the containers Terraform created, put a version under the
  # AWSPENDING stage, promote it to AWSCURRENT, remove AWSPENDING, tag it (src/aws/key-custody.ts).
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
  # public-keys document is read back (it is encrypted under the same key; an upload is checked by
  # the fingerprints its secrets state, and the document is served and verified at GET /api/keys).
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
