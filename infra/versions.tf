# Terraform and provider constraints. The AWS provider range accepts every 5.x from 5.60 (the
# first with all arguments used here: DynamoDB deletion_protection_enabled, Lambda logging_config)
# and stops before 6.0, whose data.aws_region renames `name` to `region`.
terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
