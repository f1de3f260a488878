# Inputs. Everything this module creates is gated by quantum_safe_enabled (the seed's
# `terraform apply -var="quantum_safe_enabled=true"`): false plans zero resources.

variable "quantum_safe_enabled" {
  description = "Create the quantum-safe black-box stack. false = nothing is created."
  type        = bool
  default     = false
}

variable "name_prefix" {
  description = "Prefix of every resource name. The CLI defaults assume \"ima\" (ima-tpm-audit-log, ...)."
  type        = string
  default     = "ima"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  description = "dev, staging or prod. prod turns on deletion protection and the longest recovery windows."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of: dev, staging, prod."
  }
}

variable "secret_prefix" {
  description = "Path under which the key secrets live in Secrets Manager (the names `ima-qs keys upload` writes)."
  type        = string
  default     = "ima/quantum"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]+[^/]$", var.secret_prefix))
    error_message = "secret_prefix must use Secrets Manager name characters and must not end with '/'."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled deletion of the KMS key takes effect (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the proxy and worker log groups."
  type        = number
  default     = 90

  validation {
    # The values CloudWatch Logs accepts (PutRetentionPolicy); 0 (= never expire) is refused here.
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "decisions_ttl_enabled" {
  description = "Expire decisions through the DynamoDB TTL attribute `ttl`, which the worker sets to decided_at + 24 h (SPEC §8.2). false keeps them."
  type        = bool
  default     = false
}

variable "queue_visibility_timeout_seconds" {
  description = "SQS visibility timeout: longer than the worst-case time the worker needs for one request."
  type        = number
  default     = 60

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 10 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 10 and 43200."
  }
}

variable "lambda_zip_path" {
  description = "Path of the proxy bundle built by `ima-qs package lambda` (required when enabled)."
  type        = string
  default     = null
}

variable "lambda_handler" {
  description = "Handler inside the zip (file.export)."
  type        = string
  default     = "index.handler"
}

variable "lambda_memory_mb" {
  description = "Proxy memory (MB); CPU share scales with it."
  type        = number
  default     = 512
}

variable "lambda_timeout_seconds" {
  description = "Proxy timeout (seconds). The proxy checks, records and enqueues; a long poll (GET /api/decisions/{handle}?wait=S, S <= 20, SPEC 8.2) is held up to S s, so keep this above 20 (the handler also stops a wait 1 s before the timeout). API Gateway HTTP APIs cut integrations at 30 s."
  type        = number
  default     = 25
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of the proxy: the most instances callers can run at once (cost cap) and a floor the rest of the account cannot take. A held long poll keeps an instance up to its wait (<= 20 s)."
  type        = number
  default     = 100

  validation {
    # 0 would stop the function; AWS keeps 100 unreserved per account, so large values can fail
    condition     = var.lambda_reserved_concurrency >= 1 && var.lambda_reserved_concurrency <= 10000 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be a whole number from 1 to 10000 (0 would stop the proxy)."
  }
}

variable "api_jwt_issuer" {
  description = "OIDC issuer whose JWTs the proxy API accepts (https URL; e.g. a Cognito user pool https://cognito-idp.REGION.amazonaws.com/POOL_ID). Required when enabled: every route is authenticated."
  type        = string
  default     = null

  validation {
    condition     = var.api_jwt_issuer == null ? true : can(regex("^https://[^\\s]+$", var.api_jwt_issuer))
    error_message = "api_jwt_issuer must be an https URL."
  }
}

variable "api_jwt_audiences" {
  description = "Accepted JWT audiences (aud, or client_id for Cognito access tokens). At least one when enabled."
  type        = list(string)
  default     = []
}

variable "api_jwt_scopes" {
  description = "OAuth scopes every route requires (empty: any token of the issuer and audience)."
  type        = list(string)
  default     = []
}

variable "api_cors_allowed_origins" {
  description = "Browser origins allowed by CORS on the proxy API (e.g. [\"https://app.example.com\"]); empty = no CORS (server-to-server and CLI callers only)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.api_cors_allowed_origins : can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?$", o)) || can(regex("^http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?$", o))])
    error_message = "api_cors_allowed_origins: each origin is https://host[:port] (no path, no wildcard), or http://localhost[:port] for development."
  }
}

variable "api_throttle_rate_limit" {
  description = "Steady requests per second across all callers on every route (GET /api/keys, polls); API Gateway answers 429 above it."
  type        = number
  default     = 200
}

variable "api_throttle_burst_limit" {
  description = "Burst (token bucket size) on every route."
  type        = number
  default     = 400
}

variable "api_submit_rate_limit" {
  description = "Steady requests per second across all callers on POST /api/analyze and /api/patents (each costs the worker ~23 ML-DSA-87 signatures)."
  type        = number
  default     = 100
}

variable "api_submit_burst_limit" {
  description = "Burst on the two POST routes."
  type        = number
  default     = 200
}

variable "worker_image" {
  description = "Worker container image (from `ima-qs package worker`), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/ima-qs-worker:1.0.0. Required when enabled."
  type        = string
  default     = null
}

variable "worker_cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 1024
}

variable "worker_min_tasks" {
  description = "Fewest worker tasks Application Auto Scaling keeps (and the count the service starts with). At least 1 while the worker runs: the scaling metric divides the backlog by the running tasks, so it cannot scale out from 0. 0 together with worker_max_tasks = 0 = stopped."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_min_tasks >= 0 && var.worker_min_tasks <= 100 && floor(var.worker_min_tasks) == var.worker_min_tasks
    error_message = "worker_min_tasks must be a whole number from 0 to 100."
  }
}

variable "worker_max_tasks" {
  description = "Most worker tasks Application Auto Scaling may run (the cost ceiling; the worker-at-max alarm fires when the service stays there). 0 = stopped (then worker_min_tasks = 0 too)."
  type        = number
  default     = 4

  validation {
    condition     = var.worker_max_tasks >= 0 && var.worker_max_tasks <= 100 && floor(var.worker_max_tasks) == var.worker_max_tasks
    error_message = "worker_max_tasks must be a whole number from 0 to 100."
  }
}

variable "backlog_per_task_target" {
  description = "Target of the scaling policy: visible request-queue messages per running worker task (acceptable queueing latency / seconds per decision of one task). 20 ≈ 2 s of waiting at ~10 decisions/s per 0.5-vCPU task on Node 24."
  type        = number
  default     = 20

  validation {
    condition     = var.backlog_per_task_target > 0 && var.backlog_per_task_target <= 10000
    error_message = "backlog_per_task_target must be a positive number of messages per task (at most 10000)."
  }
}

variable "worker_scale_out_cooldown_seconds" {
  description = "Seconds after a scale-out before the policy scales out again (a new Fargate task takes ~30-60 s to start polling)."
  type        = number
  default     = 60

  validation {
    condition     = var.worker_scale_out_cooldown_seconds >= 0 && var.worker_scale_out_cooldown_seconds <= 3600
    error_message = "worker_scale_out_cooldown_seconds must be between 0 and 3600."
  }
}

variable "worker_scale_in_cooldown_seconds" {
  description = "Seconds after a scale-in before the policy scales in again. Each scale-in stops a task with SIGTERM; it finishes or releases its batch within worker_stop_grace_seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.worker_scale_in_cooldown_seconds >= 0 && var.worker_scale_in_cooldown_seconds <= 3600
    error_message = "worker_scale_in_cooldown_seconds must be between 0 and 3600."
  }
}

variable "worker_stop_grace_seconds" {
  description = "STOP_GRACE_SECONDS of the worker: on SIGTERM (scale-in, deployment, rollback) the batch in hand may finish within it, then its messages are released. The container's stopTimeout is this + 10 s, and Fargate allows at most 120 s."
  type        = number
  default     = 20

  validation {
    condition     = var.worker_stop_grace_seconds >= 0 && var.worker_stop_grace_seconds <= 110 && floor(var.worker_stop_grace_seconds) == var.worker_stop_grace_seconds
    error_message = "worker_stop_grace_seconds must be a whole number from 0 to 110 (stopTimeout = it + 10 s, at most 120 s on Fargate)."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the CloudWatch alarms notify (on ALARM and back to OK). null = the alarms exist and change state (ima-qs rollout day 5 reads them) but notify nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null ? true : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "alarm_oldest_message_seconds" {
  description = "The oldest-message alarm fires when the request queue's oldest message stays older than this for 5 minutes (the worker is stuck or the scaler is at its ceiling)."
  type        = number
  default     = 120

  validation {
    condition     = var.alarm_oldest_message_seconds >= 60 && var.alarm_oldest_message_seconds <= 345600
    error_message = "alarm_oldest_message_seconds must be between 60 and 345600 (the queue's 4-day retention)."
  }
}

variable "alarm_api_5xx_threshold" {
  description = "The proxy-5xx alarm fires when the HTTP API answers more than this many 5xx in 5 minutes (0: any 5xx; the seed's error-rate target is 0 %)."
  type        = number
  default     = 0

  validation {
    condition     = var.alarm_api_5xx_threshold >= 0
    error_message = "alarm_api_5xx_threshold must be >= 0."
  }
}

variable "worker_cpu_architecture" {
  description = "Worker CPU architecture: X86_64 or ARM64 (Graviton, ~20% cheaper). Must match the image: `ima-qs package worker --image` builds linux/amd64 (X86_64); ARM64 needs an arm64 image (e.g. the Dockerfile built with docker buildx --platform linux/arm64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.worker_cpu_architecture)
    error_message = "worker_cpu_architecture must be ARM64 or X86_64."
  }
}

variable "worker_user" {
  description = "uid:gid the worker runs as (never root). With audit_anchor = \"tpm\" the gid must be the host group that owns /dev/tpmrm0 (tss)."
  type        = string
  default     = "1000:1000"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.worker_user))
    error_message = "worker_user must be uid:gid with non-zero numbers (the worker never runs as root)."
  }
}

variable "worker_launch_type" {
  description = "FARGATE (no TPM exists there) or EC2 (ECS on EC2 instances with NitroTPM, via ec2_capacity_provider_name)."
  type        = string
  default     = "FARGATE"

  validation {
    condition     = contains(["FARGATE", "EC2"], var.worker_launch_type)
    error_message = "worker_launch_type must be FARGATE or EC2."
  }
}

variable "audit_anchor" {
  description = "How the audit chain is anchored: \"tpm\" (extend a NitroTPM PCR; needs worker_launch_type = EC2) or \"none-explicit\" (no hardware anchor: the worker runs the labelled simulated PCR bank in /tmp, every anchor says simulated: true). No default: the operator must choose."
  type        = string
  default     = null

  validation {
    condition     = var.audit_anchor == null ? true : contains(["tpm", "none-explicit"], var.audit_anchor)
    error_message = "audit_anchor must be \"tpm\" or \"none-explicit\"."
  }
}

variable "checkpoint_retention_days" {
  description = "Object Lock (COMPLIANCE) retention of every registration and checkpoint version in the checkpoint bucket (SPEC 8.11): nobody can delete or change one before it ends, and it cannot be shortened for versions already written."
  type        = number
  default     = 365

  validation {
    condition     = var.checkpoint_retention_days >= 1 && var.checkpoint_retention_days <= 36500 && floor(var.checkpoint_retention_days) == var.checkpoint_retention_days
    error_message = "checkpoint_retention_days must be a whole number of days from 1 to 36500."
  }
}

variable "audit_checkpoint_entries" {
  description = "The worker writes a checkpoint of its chain after this many entries (AUDIT_CHECKPOINT_ENTRIES, SPEC 8.8)."
  type        = number
  default     = 1000

  validation {
    condition     = var.audit_checkpoint_entries >= 1 && var.audit_checkpoint_entries <= 65536 && floor(var.audit_checkpoint_entries) == var.audit_checkpoint_entries
    error_message = "audit_checkpoint_entries must be a whole number from 1 to 65536."
  }
}

variable "audit_checkpoint_seconds" {
  description = "...or after this many seconds with new entries (AUDIT_CHECKPOINT_SECONDS, SPEC 8.8)."
  type        = number
  default     = 60

  validation {
    condition     = var.audit_checkpoint_seconds >= 1 && var.audit_checkpoint_seconds <= 86400 && floor(var.audit_checkpoint_seconds) == var.audit_checkpoint_seconds
    error_message = "audit_checkpoint_seconds must be a whole number from 1 to 86400."
  }
}

variable "audit_pcr_index" {
  description = "PCR the worker extends when audit_anchor = \"tpm\" (the seed's 11; systemd also measures into 11)."
  type        = number
  default     = 11

  validation {
    condition     = var.audit_pcr_index >= 0 && var.audit_pcr_index <= 23
    error_message = "audit_pcr_index must be between 0 and 23."
  }
}

variable "ec2_capacity_provider_name" {
  description = "ECS capacity provider of NitroTPM-capable EC2 instances (required when worker_launch_type = EC2)."
  type        = string
  default     = null
}

variable "vpc_subnet_ids" {
  description = "Private subnets for the worker tasks (they need a route to SQS, DynamoDB, Secrets Manager, KMS, ECR and Logs: NAT or VPC endpoints)."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the worker tasks (egress 443 only; the worker takes no inbound traffic)."
  type        = list(string)
  default     = []
}

variable "signer_kms_key_arn" {
  description = "ARN of the ML-DSA-87 KMS key that holds the decisions signer (`ima-qs keys signer create --kms`; certified by the offline root). Set: the worker signs through KMS (SIGNER=kms:<arn>, kms:Sign on this key only) and the key set carries no signing key. Empty: the signer is the key set's own ML-DSA-87 key in Secrets Manager."
  type        = string
  default     = ""

  validation {
    condition     = var.signer_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", var.signer_kms_key_arn))
    error_message = "signer_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

variable "key_operator_arns" {
  description = "IAM principals (operators, CI) that upload key material with `ima-qs keys upload`: the key policy lets them encrypt through Secrets Manager only (never decrypt); attach the output key_operator_policy_arn to them."
  type        = list(string)
  default     = []
}

variable "break_glass_principal_arns" {
  description = "IAM principals that may assume the break-glass role (with MFA) to recover the private keys or repair the audit table. Empty = no break-glass role: nobody can read a private key back except the worker."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.break_glass_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(user|role)/.+$", a))])
    error_message = "break_glass_principal_arns must be IAM user or role ARNs (no account root, no wildcard)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
