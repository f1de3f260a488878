# The request queue and its dead-letter queue, both encrypted with the customer-managed key.

resource "aws_sqs_queue" "requests" {
  count = local.count

  name                              = local.queue_name
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  receive_wait_time_seconds         = 20     # long polling: fewer empty receives, lower cost
  message_retention_seconds         = 345600 # 4 days
  max_message_size                  = 262144 # 256 KiB; a sealed request is far smaller
  kms_master_key_id                 = aws_kms_key.main[0].arn
  kms_data_key_reuse_period_seconds = 300

  # After 5 failed receives a message goes to the DLQ instead of looping forever.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.requests_dlq[0].arn
    maxReceiveCount     = 5
  })
  tags = local.tags
}

resource "aws_sqs_queue" "requests_dlq" {
  count = local.count

  name                              = local.dlq_name
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum: time to inspect and redrive
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = aws_kms_key.main[0].arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = local.tags
}

# Only the request queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "requests_dlq" {
  count = local.count

  queue_url = aws_sqs_queue.requests_dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.requests[0].arn]
  })
}
