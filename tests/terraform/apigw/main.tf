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
    apigatewayv2 = var.endpoint
    lambda       = var.endpoint
    sts          = var.endpoint
  }
}
resource "aws_lambda_function" "api" {
  function_name    = "tf-api"
  role             = "arn:aws:iam::000000000000:role/lambda-role"
  runtime          = "python3.12"
  handler          = "index.handler"
  filename         = "${path.module}/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/fn.zip")
}
resource "aws_lambda_permission" "apigw" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
}

# An HTTP API built from resources.
resource "aws_apigatewayv2_api" "built" {
  name          = "tf-built"
  protocol_type = "HTTP"
  tags          = { team = "core" }
}
resource "aws_apigatewayv2_integration" "fn" {
  api_id                 = aws_apigatewayv2_api.built.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
}
resource "aws_apigatewayv2_route" "item" {
  api_id    = aws_apigatewayv2_api.built.id
  route_key = "GET /items/{id}"
  target    = "integrations/${aws_apigatewayv2_integration.fn.id}"
}
resource "aws_apigatewayv2_stage" "built" {
  api_id      = aws_apigatewayv2_api.built.id
  name        = "$default"
  auto_deploy = true
}

# An HTTP API imported from an OpenAPI body.
resource "aws_apigatewayv2_api" "imported" {
  name          = "tf-imported"
  protocol_type = "HTTP"
  version       = "1.0" # ImportApi takes info.version, as AWS does
  body = jsonencode({
    openapi = "3.0.1"
    info    = { title = "tf-imported", version = "1.0" }
    paths = {
      "/hello" = {
        get = {
          "x-amazon-apigateway-integration" = {
            type                 = "aws_proxy"
            httpMethod           = "POST"
            uri                  = aws_lambda_function.api.invoke_arn
            payloadFormatVersion = "2.0"
          }
        }
      }
    }
  })
}
resource "aws_apigatewayv2_stage" "imported" {
  api_id      = aws_apigatewayv2_api.imported.id
  name        = "$default"
  auto_deploy = true
}

output "built_id" { value = aws_apigatewayv2_api.built.id }
output "imported_id" { value = aws_apigatewayv2_api.imported.id }
output "built_endpoint" { value = aws_apigatewayv2_api.built.api_endpoint }
