# The worker: an ECS service running the container built by `ima-qs package worker`.
#
# Where the TPM comes from (DESIGN.md, "Facts that change the design"): Fargate has NO TPM.
# NitroTPM exists only on EC2 instances (UEFI boot, an AMI registered with TpmSupport = v2.0).
#   worker_launch_type = "FARGATE" -> audit_anchor must be "none-explicit": no hardware anchor.
#     The worker refuses to start without an anchor (NO_PCR_ANCHOR, never a silent fallback), so
#     "none-explicit" hands it the labelled software anchor, IMA_QS_PCR_ANCHOR=simulated:<file in
#     /tmp>: the audit chain is still hash-chained and ML-DSA-87-signed in DynamoDB, but the "PCR"
#     is a file in the task, lost when the task stops, and every anchor says simulated: true. What
#     then holds the chain is its registration and the checkpoints signed with the audit key in the
#     Object Lock bucket (checkpoints.tf): "signed hash chain with checkpoints; no hardware anchor".
#   worker_launch_type = "EC2"     -> tasks are placed on ec2_capacity_provider_name (an Auto
#     Scaling group of NitroTPM instances, managed outside this module), and with
#     audit_anchor = "tpm" the host's /dev/tpmrm0 is mapped into the container and the worker
#     extends a real PCR through tpm2-tools (TPM2TOOLS_TCTI=device:/dev/tpmrm0).
# The combination FARGATE + "tpm" is refused at plan time; audit_anchor has no default.

resource "aws_ecs_cluster" "main" {
  count = local.count

  name = local.ecs_cluster_name

  # Container Insights publishes ECS/ContainerInsights RunningTaskCount per service: the divisor of
  # the backlog-per-task scaling metric (autoscaling.tf) and the worker-at-max alarm (alarms.tf).
  # AWS/ECS has no task-count metric of its own. Billed as custom metrics (infra/README.md, cost).
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

locals {
  worker_tpm = var.audit_anchor == "tpm"

  # Exactly the variables the worker reads (SPEC §8.8, src/service/wiring.ts workerFromEnv); an
  # empty value is left out. The key-set secret is found under KEYS_SECRET_PREFIX; SIGNER names
  # the KMS key of the decisions signer when it is held in KMS (signer_kms_key_arn).
  worker_env = {
    AWS_REGION         = local.region
    QUEUE_URL          = one(aws_sqs_queue.requests[*].url)
    REQUESTS_TABLE     = local.requests_table_name
    DECISIONS_TABLE    = local.decisions_table_name
    AUDIT_TABLE        = local.audit_table_name
    KEYS_SECRET_PREFIX = var.secret_prefix
    SIGNER             = var.signer_kms_key_arn == "" ? "" : "kms:${var.signer_kms_key_arn}"
    IMA_QS_PCR_ANCHOR  = local.worker_tpm ? "tpm" : "simulated:${local.simulated_pcr_file}"
    TPM2TOOLS_TCTI     = local.worker_tpm ? "device:${local.tpm_device}" : ""
    PCR_INDEX          = tostring(var.audit_pcr_index)
    # the consumer renews a message's visibility at half of this while it works on it
    VISIBILITY_SECONDS = tostring(var.queue_visibility_timeout_seconds)
    # one pipeline (thread, audit chain <AUDIT_CHAIN_ID>/<i>) per vCPU of the task: the cores a
    # container sees can be more than its share (SPEC 8.8 WORKER_PIPELINES)
    WORKER_PIPELINES = tostring(max(1, floor(var.worker_cpu / 1024)))
    # several tasks on one NitroTPM host extend the same PCR: a lock file in a host folder
    # serialises read, extend and the recorded before/after across them (SPEC 8.7). Fargate (the
    # simulated bank in the task's own /tmp) has one writer per bank and needs none.
    PCR_LOCK_FILE = local.worker_tpm ? "${local.pcr_lock_dir}/pcr.lock" : ""
    # on SIGTERM (a scale-in, a deployment, a rollback) the batch in hand may finish within this;
    # after it the worker releases its messages and exits, before ECS's stopTimeout (below) kills it
    STOP_GRACE_SECONDS = tostring(var.worker_stop_grace_seconds)
    # SPEC 8.11: registrations and signed checkpoints go to the Object Lock bucket (checkpoints.tf);
    # the chain id is the ECS task id (the agent sets ECS_CONTAINER_METADATA_URI_V4)
    AUDIT_CHECKPOINTS        = "s3://${local.checkpoint_bucket_name}"
    AUDIT_CHECKPOINT_ENTRIES = tostring(var.audit_checkpoint_entries)
    AUDIT_CHECKPOINT_SECONDS = tostring(var.audit_checkpoint_seconds)
  }
  worker_environment = [for k, v in local.worker_env : { name = k, value = v } if v != ""]

  # audit_anchor = "none-explicit": the labelled software PCR bank, in the task's writable /tmp
  simulated_pcr_file = "/tmp/ima-qs-pcr-simulated.json"

  # audit_anchor = "tpm": the host folder (bind-mounted at the same path) holding the PCR lock file
  pcr_lock_dir = "/run/ima-qs"
  worker_mount_points = concat(
    [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }],
    local.worker_tpm ? [{ sourceVolume = "pcr-lock", containerPath = local.pcr_lock_dir, readOnly = false }] : []
  )

  # ECS sends SIGTERM, waits stopTimeout seconds, then SIGKILL. The worker's own deadline
  # (STOP_GRACE_SECONDS) ends first, by this margin: time to release the unfinished messages
  # (ChangeMessageVisibility 0), close the pipeline threads and exit 0. Fargate allows at most 120.
  worker_stop_margin_seconds = 10
  worker_stop_timeout        = var.worker_stop_grace_seconds + local.worker_stop_margin_seconds

  # linuxParameters: drop every capability; on EC2 with a TPM, pass the kernel's resource manager
  # device (never /dev/tpm0: tpmrm0 lets several clients share the TPM safely).
  worker_linux_parameters = merge(
    {
      capabilities       = { drop = ["ALL"] }
      initProcessEnabled = true
    },
    local.worker_tpm ? {
      devices = [{ hostPath = local.tpm_device, containerPath = local.tpm_device, permissions = ["read", "write"] }]
    } : {}
  )
}

resource "aws_ecs_task_definition" "worker" {
  count = local.count

  family                   = local.worker_family
  requires_compatibilities = [var.worker_launch_type]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.worker_cpu)
  memory                   = tostring(var.worker_memory)
  task_role_arn            = aws_iam_role.worker_task[0].arn
  execution_role_arn       = aws_iam_role.worker_execution[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.worker_cpu_architecture
  }

  # A writable scratch volume for /tmp; the root file system stays read-only.
  volume {
    name = "tmp"
  }

  # with a TPM: the host folder of the PCR lock file, shared by every task on the host
  dynamic "volume" {
    for_each = local.worker_tpm ? [1] : []
    content {
      name      = "pcr-lock"
      host_path = local.pcr_lock_dir
    }
  }

  container_definitions = jsonencode([
    {
      name                   = "worker"
      image                  = var.worker_image
      essential              = true
      user                   = var.worker_user
      readonlyRootFilesystem = true
      privileged             = false
      environment            = local.worker_environment
      linuxParameters        = local.worker_linux_parameters
      mountPoints            = local.worker_mount_points
      stopTimeout            = local.worker_stop_timeout
      # ECS ignores the image's HEALTHCHECK: the same check (health.mjs reads the heartbeat file
      # the poll loop keeps fresh in /tmp; `ima-qs package worker`)
      healthCheck = {
        command     = ["CMD", "node", "/app/health.mjs"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = local.worker_log_group
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "worker"
        }
      }
    }
  ])

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.worker_image != null
      error_message = "worker_image is required when quantum_safe_enabled = true: build it with `ima-qs package worker` and push it."
    }
  }
}

# desired_count is only the starting count: from then on Application Auto Scaling owns it
# (autoscaling.tf), and lifecycle.ignore_changes keeps an apply from resetting what it chose.
resource "aws_ecs_service" "worker" {
  count = local.count

  name                               = local.ecs_service_name
  cluster                            = aws_ecs_cluster.main[0].id
  task_definition                    = aws_ecs_task_definition.worker[0].arn
  desired_count                      = var.worker_min_tasks
  launch_type                        = var.worker_launch_type == "FARGATE" ? "FARGATE" : null
  platform_version                   = var.worker_launch_type == "FARGATE" ? "LATEST" : null
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  dynamic "capacity_provider_strategy" {
    for_each = var.worker_launch_type == "EC2" ? [1] : []
    content {
      capacity_provider = var.ec2_capacity_provider_name
      weight            = 1
    }
  }

  network_configuration {
    subnets          = var.vpc_subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags

  lifecycle {
    ignore_changes = [desired_count]

    precondition {
      condition     = var.audit_anchor != null
      error_message = "choose audit_anchor explicitly: \"tpm\" (needs worker_launch_type = \"EC2\" on NitroTPM instances) or \"none-explicit\" (hash chain only, no hardware anchor)."
    }
    precondition {
      condition     = !(var.worker_launch_type == "FARGATE" && var.audit_anchor == "tpm")
      error_message = "audit_anchor = \"tpm\" is impossible on Fargate (Fargate has no TPM): set worker_launch_type = \"EC2\" with a NitroTPM capacity provider, or audit_anchor = \"none-explicit\"."
    }
    precondition {
      condition     = var.worker_launch_type != "EC2" || var.ec2_capacity_provider_name != null
      error_message = "worker_launch_type = \"EC2\" needs ec2_capacity_provider_name (an ECS capacity provider of NitroTPM-capable instances)."
    }
    precondition {
      condition     = length(var.vpc_subnet_ids) > 0 && length(var.security_group_ids) > 0
      error_message = "vpc_subnet_ids and security_group_ids are required when quantum_safe_enabled = true (awsvpc networking)."
    }
  }
}
