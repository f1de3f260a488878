# Secrets Manager entries. Terraform creates the containers only (EMPTY: no version), and no secret
# value is ever in Terraform code or state. `ima-qs keys upload` puts the first key-set generation
# into the empty containers (its first version becomes AWSCURRENT) and the public-keys document;
# `ima-qs keys rotate` adds the next generations as versions of the same secret (SPEC 7.1, 7.2).
#
# The public-keys document is a Secrets Manager secret (not an SSM parameter) although it is not
# confidential: the CLI already speaks Secrets Manager (one SDK client, one permission model),
# versions/stages give an atomic switch on key rotation, and the proxy then needs exactly one
# secretsmanager:GetSecretValue on exactly one ARN. Cost: $0.40/month more than a standard SSM
# parameter. Its integrity does not rest on AWS: every statement in it is signed by the offline
# root, whose fingerprint clients pin (SPEC 7.3).

resource "aws_secretsmanager_secret" "private_key" {
  for_each = local.enabled ? local.private_key_secret_names : {}

  name                    = each.value
  description             = "ima-qs ${each.key}: the private keys of each key-set generation (PKCS#8 PEM, one version per generation). Read by the worker only."
  kms_key_id              = aws_kms_key.main[0].arn
  recovery_window_in_days = var.environment == "prod" ? 30 : 7
  tags                    = merge(local.tags, { "ima-qs/key" = each.key })
}

resource "aws_secretsmanager_secret" "public_keys" {
  count = local.count

  name                    = local.public_keys_secret_name
  description             = "ima-qs public-keys document served by the proxy at GET /api/keys (root-signed statements, no private material)"
  kms_key_id              = aws_kms_key.main[0].arn
  recovery_window_in_days = var.environment == "prod" ? 30 : 7
  tags                    = merge(local.tags, { "ima-qs/key" = "public-keys" })
}

# Resource policies on the private-key secrets (the custody rule, custody.tf): whatever an IAM
# policy in the account says (a broad secretsmanager:GetSecretValue on "*" granted for another
# application, an operator's policy), only the worker task role and the break-glass role may read
# a private key. Inside a resource policy, Resource "*" means "this secret". An administrator who
# may call PutResourcePolicy can still rewrite this: the KMS key policy (no Decrypt for the
# account, no self-granted grants) is the second lock.
data "aws_iam_policy_document" "private_key_secret" {
  count = local.count

  statement {
    sid    = "OnlyTheWorkerAndBreakGlassRead"
    effect = "Deny"
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.private_key_readers
    }
  }
}

resource "aws_secretsmanager_secret_policy" "private_key" {
  for_each = local.enabled ? local.private_key_secret_names : {}

  secret_arn          = aws_secretsmanager_secret.private_key[each.key].arn
  policy              = data.aws_iam_policy_document.private_key_secret[0].json
  block_public_policy = true
}
