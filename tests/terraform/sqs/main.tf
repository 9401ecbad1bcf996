terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
variable "endpoint" { type = string }
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    sqs = var.endpoint
    sts = var.endpoint
  }
}
resource "aws_sqs_queue" "dlq" {
  name = "orders-dlq"
}
resource "aws_sqs_queue" "orders" {
  name                       = "orders"
  visibility_timeout_seconds = 45
  delay_seconds              = 2
  redrive_policy = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn, maxReceiveCount = 3 })
  tags = { team = "core" }
}
resource "aws_sqs_queue" "events" {
  name                        = "events.fifo"
  fifo_queue                  = true
  content_based_deduplication = true
}
output "url" { value = aws_sqs_queue.orders.url }
output "arn" { value = aws_sqs_queue.orders.arn }
