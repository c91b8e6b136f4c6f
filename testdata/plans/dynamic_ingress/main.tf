variable "rules" {
  type = list(object({ port = number, cidrs = list(string) }))
}

resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "main"
  }
}

# Terraform's plan JSON never shows a dynamic block: its configuration lists no `ingress` here.
resource "aws_security_group" "dynamic_only" {
  name   = "dynamic_only"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  dynamic "ingress" {
    for_each = var.rules
    content {
      from_port   = ingress.value.port
      to_port     = ingress.value.port
      protocol    = "tcp"
      cidr_blocks = ingress.value.cidrs
    }
  }
}

# The static block's one reference is all the configuration records, for both planned rules.
resource "aws_security_group" "static_and_dynamic" {
  name   = "static_and_dynamic"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    from_port   = 139
    to_port     = 139
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.main.cidr_block]
  }

  dynamic "ingress" {
    for_each = var.rules
    content {
      from_port   = ingress.value.port
      to_port     = ingress.value.port
      protocol    = "tcp"
      cidr_blocks = ingress.value.cidrs
    }
  }
}

resource "aws_security_group" "rules_elsewhere" {
  name   = "rules_elsewhere"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}
