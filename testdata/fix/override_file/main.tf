provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group" "files" {
  name        = "files"
  description = "File server"
  vpc_id      = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SSH from the office"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}
