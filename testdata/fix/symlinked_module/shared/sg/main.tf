variable "name" {
  type = string
}

resource "aws_security_group" "this" {
  name   = var.name
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SMB"
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
