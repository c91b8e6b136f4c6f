variable "name" {
  type = string
}

variable "port" {
  type = number
}

variable "clients" {
  type = list(string)
}

resource "aws_security_group" "this" {
  name   = var.name
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "service"
    from_port   = var.port
    to_port     = var.port
    protocol    = "tcp"
    cidr_blocks = var.clients
  }
}
