provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group_rule" "smb" {
  type              = "ingress"
  description       = "SMB from the office"
  from_port         = 445
  to_port           = 445
  protocol          = "tcp"
  cidr_blocks       = ["10.1.0.0/16"]
  security_group_id = "sg-0123456789abcdef0"
}
