# Least-privilege roles: the proxy (Lambda), the worker task, and the worker's task-execution role
# (image pull + logs, used by the ECS agent, never by the worker code).
#
# Rules kept here (and checked by test/unit/infra): every policy is an aws_iam_policy_document;
# no "*" (or "svc:*") action; no Resource = "*" except ecr:GetAuthorizationToken, which AWS
# defines on no resource (ECR API reference: GetAuthorizationToken "Resource types: -").

# ---- the proxy ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  count = local.count

  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = local.count

  name               = "${var.name_prefix}-quantum-proxy"
  description        = "ima-qs proxy: enqueue sealed requests, replay guard, read decisions, serve public keys"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume[0].json
  tags               = local.tags
}

# The proxy holds NO private key: its only secret is the public-keys document. Every action is one
# the proxy code sends (src/service/proxy/handler.ts through the adapters in src/aws; the list is
# compared with this document by test/unit/infra/infra-actions.test.ts): it writes only its own
# replay-guard items (req#<handle>) and only reads decisions — it can neither plant a decision or a
# refusal nor claim a request id (rid#…, the worker's).
data "aws_iam_policy_document" "lambda" {
  count = local.count

  statement {
    sid       = "EnqueueRequests"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.requests[0].arn]
  }

  # SPEC 8.2: the replay guard is a conditional PutItem of req#<handle> {route, received_at, ttl,
  # attempt}; a poll reads it back; a failed enqueue deletes the guard this call wrote (a
  # DeleteItem conditional on its attempt), so a 503 means "not queued". dynamodb:LeadingKeys keeps
  # the proxy to the req# items.
  statement {
    sid       = "ReplayGuardItems"
    effect    = "Allow"
    actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.requests[0].arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["req#*"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = local.proxy_request_attributes
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "dynamodb:ReturnValues"
      values   = ["NONE"]
    }
  }

  # Decisions are read, never written, by the proxy (the worker stores them).
  statement {
    sid       = "ReadDecisions"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.decisions[0].arn]
  }

  statement {
    sid       = "ReadPublicKeysDocument"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.public_keys[0].arn]
  }

  # SSE-KMS: sending to the queue needs GenerateDataKey and Decrypt, reading the secret and the
  # tables Decrypt, writing a table item GenerateDataKey, all through those services only.
  statement {
    sid       = "UseKeyThroughServices"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_services
    }
  }

  # The Lambda runtime (not the proxy code) writes the function's log stream.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[0].arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  count = local.count

  name   = "ima-qs-proxy"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}

# ---- the worker (task role: what the worker code may do) ---------------------------------------

# Confused-deputy guard from the ECS task-role documentation: only tasks of this account.
data "aws_iam_policy_document" "worker_task_assume" {
  count = local.count

  statement {
    sid     = "EcsTasksAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "worker_task" {
  count = local.count

  name               = "${var.name_prefix}-quantum-worker-task"
  description        = "ima-qs worker: consume requests, read private keys, write decisions and the audit chain"
  assume_role_policy = data.aws_iam_policy_document.worker_task_assume[0].json
  tags               = local.tags
}

# Every action is one the worker code sends (src/service/worker/*, src/audit/audit-chain.ts and
# audit-store.ts, src/aws/service-keys.ts; compared by test/unit/infra/infra-actions.test.ts).
data "aws_iam_policy_document" "worker_task" {
  count = local.count

  statement {
    sid    = "ConsumeRequests"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.requests[0].arn]
  }

  # Audit chain (SPEC 6): the worker reads its chain's tail (Query) and an entry (GetItem).
  statement {
    sid       = "ReadAuditChain"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.audit_log[0].arn]
  }

  # Append an entry: a PutItem of exactly a v3 entry's attributes, outside the "#batches"
  # partitions. The code sends it with attribute_not_exists(chain) so it never overwrites; IAM
  # cannot require a condition expression, so a worker that skipped it could replace an entry (the
  # hash chain and the signed batch statements are what detect that: `ima-qs audit verify`).
  # No UpdateItem (entries are never changed), no DeleteItem.
  statement {
    sid       = "AppendAuditEntries"
    effect    = "Allow"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.audit_log[0].arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = local.audit_entry_attributes
    }
    condition {
      test     = "ForAllValues:StringNotLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["*#batches"]
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "dynamodb:ReturnValues"
      values   = ["NONE"]
    }
  }

  # Store a group commit's signed batch statement (SPEC 8.10.4): a PutItem of exactly the
  # statement's attributes, only in a chain's "<chain>#batches" partition.
  statement {
    sid       = "PutBatchStatements"
    effect    = "Allow"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.audit_log[0].arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = local.audit_batch_attributes
    }
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["*#batches"]
    }
    condition {
      test     = "StringEqualsIfExists"
      variable = "dynamodb:ReturnValues"
      values   = ["NONE"]
    }
  }

  # SPEC 8.11: chain registrations and signed checkpoints, written once (If-None-Match) into the
  # Object Lock bucket under registry/ and checkpoints/, and under keysets/ the root-signed
  # statements that certify the audit key (SPEC 7.3); read back on start (the newest checkpoint of
  # the worker's chain). No delete: the bucket policy and Object Lock refuse it anyway.
  statement {
    sid       = "WriteCheckpoints"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.checkpoints[0].arn}/checkpoints/*", "${aws_s3_bucket.checkpoints[0].arn}/registry/*", "${aws_s3_bucket.checkpoints[0].arn}/keysets/*"]
  }

  statement {
    sid       = "ListCheckpoints"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.checkpoints[0].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["checkpoints/*", "registry/*"]
    }
  }

  statement {
    sid       = "WriteDecisions"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.decisions[0].arn]
  }

  # The request-id claim (idempotency when SQS delivers twice): a conditional PutItem of
  # rid#<request_id> {handle, ttl}, read back on a conflict. LeadingKeys keeps the worker off the
  # proxy's req# replay-guard items.
  statement {
    sid       = "ClaimRequestIds"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.requests[0].arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["rid#*"]
    }
  }

  # The audit-slot claim (SPEC 8.7 "once per request"): a conditional PutItem of aud#<handle>
  # {chain, seq, claimed_at, ttl, decision?} before the entry is appended, read back by a retry;
  # a stale claim (its worker died before anchoring, after a lease) is taken over by a DeleteItem
  # conditional on its exact content, then a new conditional PutItem. Only aud# items.
  statement {
    sid       = "ClaimAuditSlots"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.requests[0].arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["aud#*"]
    }
  }

  # The key ring (src/aws/keyset-secret.ts): one DescribeSecret (which version holds which
  # generation label), then each labelled version by its id.
  statement {
    sid       = "ReadPrivateKeys"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.private_key : s.arn]
  }

  # SIGNER=kms:<arn> (src/aws/kms-signer.ts): the decisions signer's private key stays in the HSM;
  # the worker reads its public key at start and signs the FIPS 204 external mu, on that key only.
  dynamic "statement" {
    for_each = var.signer_kms_key_arn == "" ? [] : [1]
    content {
      sid       = "SignWithTheKmsSigner"
      effect    = "Allow"
      actions   = ["kms:GetPublicKey", "kms:Sign"]
      resources = [var.signer_kms_key_arn]
    }
  }

  # Decrypt: secrets, queue messages, table items. GenerateDataKey: DynamoDB writes under the key.
  statement {
    sid       = "UseKeyThroughServices"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main[0].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.via_services
    }
  }
}

resource "aws_iam_role_policy" "worker_task" {
  count = local.count

  name   = "ima-qs-worker"
  role   = aws_iam_role.worker_task[0].id
  policy = data.aws_iam_policy_document.worker_task[0].json
}

# ---- the worker's task-execution role (ECS agent: pull the image, ship logs) -------------------

data "aws_iam_policy_document" "worker_execution_assume" {
  count = local.count

  statement {
    sid     = "EcsTasksAssumeExecutionRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "worker_execution" {
  count = local.count

  name               = "${var.name_prefix}-quantum-worker-execution"
  description        = "ima-qs worker task execution: pull the image, write the worker log group"
  assume_role_policy = data.aws_iam_policy_document.worker_execution_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "worker_execution" {
  count = local.count

  dynamic "statement" {
    for_each = local.worker_ecr_repository_arn == null ? [] : [1]
    content {
      # Documented exception: GetAuthorizationToken has no resource type; AWS requires "*".
      sid       = "EcrAuthorizationToken"
      effect    = "Allow"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.worker_ecr_repository_arn == null ? [] : [1]
    content {
      sid       = "PullWorkerImage"
      effect    = "Allow"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [local.worker_ecr_repository_arn]
    }
  }

  statement {
    sid       = "WriteWorkerLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker[0].arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "worker_execution" {
  count = local.count

  name   = "ima-qs-worker-execution"
  role   = aws_iam_role.worker_execution[0].id
  policy = data.aws_iam_policy_document.worker_execution[0].json
}
