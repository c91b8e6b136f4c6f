provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group_rule" "netbios_session" {
  type              = "ingress"
  description       = "NetBIOS session service"
  from_port         = 139
  to_port           = 139
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.files.id
}
