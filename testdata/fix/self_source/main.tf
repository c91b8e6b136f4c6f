provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group" "cluster" {
  name   = "cluster"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SMB between members, and from anywhere"
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    self        = true
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
