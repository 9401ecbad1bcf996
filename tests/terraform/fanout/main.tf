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
    sns         = var.endpoint
    sqs         = var.endpoint
    sts         = var.endpoint
    eventbridge = var.endpoint
  }
}

# SNS fan-out: a topic, a queue subscribed raw with a filter policy.
resource "aws_sqs_queue" "orders" {
  name = "tf-orders"
}
resource "aws_sns_topic" "orders" {
  name         = "tf-orders"
  display_name = "Orders"
  tags         = { team = "core" }
}
resource "aws_sns_topic_subscription" "big" {
  topic_arn            = aws_sns_topic.orders.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.orders.arn
  raw_message_delivery = true
  filter_policy        = jsonencode({ amount = [{ numeric = [">=", 100] }] })
}

# EventBridge: a custom bus, a rule with a pattern, a queue target.
resource "aws_sqs_queue" "events" {
  name = "tf-events"
}
resource "aws_cloudwatch_event_bus" "shop" {
  name = "tf-shop"
  tags = { team = "core" }
}
resource "aws_cloudwatch_event_rule" "placed" {
  name           = "tf-order-placed"
  event_bus_name = aws_cloudwatch_event_bus.shop.name
  event_pattern  = jsonencode({ source = ["shop"], "detail-type" = ["OrderPlaced"] })
}
resource "aws_cloudwatch_event_target" "to_queue" {
  rule           = aws_cloudwatch_event_rule.placed.name
  event_bus_name = aws_cloudwatch_event_bus.shop.name
  target_id      = "queue"
  arn            = aws_sqs_queue.events.arn
  input_path     = "$.detail"
}
resource "aws_cloudwatch_event_rule" "tick" {
  name                = "tf-tick"
  schedule_expression = "rate(5 minutes)"
  state               = "DISABLED"
}

output "topic_arn" { value = aws_sns_topic.orders.arn }
output "subscription_arn" { value = aws_sns_topic_subscription.big.arn }
output "orders_url" { value = aws_sqs_queue.orders.url }
output "events_url" { value = aws_sqs_queue.events.url }
output "bus_arn" { value = aws_cloudwatch_event_bus.shop.arn }
output "rule_arn" { value = aws_cloudwatch_event_rule.placed.arn }
