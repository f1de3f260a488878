# Names and facts shared by every file. Names are fixed here (not computed by AWS) so that the
# CLI, the services and the tests can all derive them from name_prefix / secret_prefix.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  enabled = var.quantum_safe_enabled
  count   = var.quantum_safe_enabled ? 1 : 0

  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_alias_name = "alias/${var.name_prefix}-quantum"

  # Secrets Manager: the key set (KEM keys, decisions signer, audit key), one secret whose versions are the generations (values uploaded
  # by `ima-qs keys upload|rotate`, never by Terraform; SPEC 7.1), and the public-keys document
  # served by the proxy at GET /api/keys. A map, so that a key added to the custody model is one entry.
  private_key_secret_names = {
    keyset = "${var.secret_prefix}/keyset"
  }
  public_keys_secret_name = "${var.secret_prefix}/public-keys"

  audit_table_name = "${var.name_prefix}-tpm-audit-log"
  # SPEC 8.11: registrations and signed checkpoints (checkpoints.tf); bucket names are global,
  # so the account id is part of it
  checkpoint_bucket_name = "${var.name_prefix}-quantum-audit-checkpoints-${local.account_id}"
  decisions_table_name   = "${var.name_prefix}-quantum-decisions"
  requests_table_name    = "${var.name_prefix}-quantum-requests"

  queue_name = "${var.name_prefix}-quantum-requests"
  dlq_name   = "${var.name_prefix}-quantum-requests-dlq"

  lambda_function_name = "${var.name_prefix}-quantum-proxy"
  lambda_log_group     = "/aws/lambda/${var.name_prefix}-quantum-proxy"
  worker_log_group     = "/ecs/${var.name_prefix}-quantum-worker"
  # Built from names (not resource attributes) so the KMS key policy can name the log groups
  # without a dependency cycle (the log groups are encrypted with that key).
  lambda_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.lambda_log_group}"
  worker_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.worker_log_group}"

  ecs_cluster_name = "${var.name_prefix}-quantum"
  ecs_service_name = "${var.name_prefix}-quantum-worker"
  worker_family    = "${var.name_prefix}-quantum-worker"

  # dynamodb:Attributes allow-lists (IAM fine-grained access): the attributes each write may name,
  # key attributes included (DynamoDB requires them in the list). The enforcement test checks that
  # the requests the code sends stay inside them (test/integration/iam).
  #   the proxy's replay-guard item req#<handle> (SPEC 8.2, src/service/proxy/handler.ts)
  proxy_request_attributes = ["id", "route", "received_at", "ttl", "attempt"]
  #   a v3 audit entry as appended (src/audit/audit-store.ts toItem) and a signed batch statement
  #   (putBatch, partition "<chain>#batches"); nothing is ever updated (SPEC 8.10.4)
  audit_entry_attributes = ["chain", "seq", "core", "digest", "payload"]
  audit_batch_attributes = ["chain", "seq", "statement", "signature"]

  # kms:ViaService values: the roles may use the key only through these services (s3: the worker's
  # checkpoints under SSE-KMS; the proxy has no S3 permission at all).
  via_services = [for s in ["secretsmanager", "dynamodb", "sqs", "s3"] : "${s}.${local.region}.amazonaws.com"]

  # ECR repository of the worker image, when the image lives in ECR
  # (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:tag|@digest]); null for a public registry.
  worker_ecr = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([a-z0-9._/-]+)", var.worker_image), null)
  worker_ecr_repository_arn = local.worker_ecr == null ? null : (
    "arn:${local.partition}:ecr:${local.worker_ecr[1]}:${local.worker_ecr[0]}:repository/${local.worker_ecr[2]}"
  )

  tpm_device = "/dev/tpmrm0"

  # the break-glass role exists only when someone is named to assume it (custody.tf); its name is
  # fixed, so the checkpoint bucket policy can except it whether or not it exists yet
  break_glass           = length(var.break_glass_principal_arns) > 0
  break_glass_role_name = "${var.name_prefix}-quantum-break-glass"
  break_glass_role_arn  = "arn:${local.partition}:iam::${local.account_id}:role/${local.break_glass_role_name}"

  # who may read a private-key secret at all (their resource policy denies everyone else)
  private_key_readers = concat(
    [for r in aws_iam_role.worker_task : r.arn],
    [for r in aws_iam_role.break_glass : r.arn],
  )

  # the alias the function URL serves and `ima-qs rollout rollback` moves (src/rollout/resources.ts)
  lambda_alias_name = "live"

  tags = merge(var.tags, {
    "app"         = "ima-qs"
    "environment" = var.environment
    "managed-by"  = "terraform"
  })
}
