provider "aws" {
  region = "eu-west-1"
}

variable "web_ports" {
  type    = list(number)
  default = [443, 139]
}

resource "aws_security_group" "edge" {
  name   = "edge"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SMB"
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  dynamic "ingress" {
    for_each = var.web_ports
    content {
      description = "web"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}
