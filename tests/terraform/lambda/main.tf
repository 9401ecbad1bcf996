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
    lambda = var.endpoint
    sqs    = var.endpoint
    sts    = var.endpoint
  }
}
resource "aws_lambda_function" "hello" {
  function_name = "hello"
  role          = "arn:aws:iam::000000000000:role/lambda-role"
  runtime       = "python3.12"
  handler       = "index.handler"
  filename      = "${path.module}/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/fn.zip")
  memory_size   = 256
  timeout       = 10
  publish       = true
  environment {
    variables = { STAGE = "test" }
  }
  tags = { team = "core" }
}
resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.hello.function_name
  function_version = aws_lambda_function.hello.version
}
resource "aws_lambda_permission" "s3" {
  statement_id  = "AllowS3"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.hello.function_name
  principal     = "s3.amazonaws.com"
  source_arn    = "arn:aws:s3:::uploads"
  qualifier     = aws_lambda_alias.live.name
}
resource "aws_sqs_queue" "jobs" {
  name = "jobs"
}
resource "aws_lambda_event_source_mapping" "jobs" {
  event_source_arn = aws_sqs_queue.jobs.arn
  function_name    = aws_lambda_alias.live.arn
  batch_size       = 5
  filter_criteria {
    filter {
      pattern = jsonencode({ body = { kind = ["job"] } })
    }
  }
}
resource "aws_lambda_invocation" "seed" {
  function_name = aws_lambda_function.hello.function_name
  qualifier     = aws_lambda_alias.live.name
  input         = jsonencode({ action = "seed", n = 3 })
}
data "aws_lambda_invocation" "probe" {
  function_name = aws_lambda_function.hello.function_name
  input         = jsonencode({ action = "probe" })
}
output "seed_result" { value = jsondecode(aws_lambda_invocation.seed.result) }
output "probe_result" { value = jsondecode(data.aws_lambda_invocation.probe.result) }
output "arn" { value = aws_lambda_function.hello.arn }
output "version" { value = aws_lambda_function.hello.version }
output "alias_arn" { value = aws_lambda_alias.live.arn }
output "mapping_uuid" { value = aws_lambda_event_source_mapping.jobs.uuid }
