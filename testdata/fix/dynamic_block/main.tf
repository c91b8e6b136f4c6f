provider "aws" {
  region = "eu-west-1"
}

locals {
  file_ports = [139, 445]
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  dynamic "ingress" {
    for_each = local.file_ports
    content {
      description = "file sharing"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}
