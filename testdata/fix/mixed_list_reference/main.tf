variable "open" {
  default = "0.0.0.0/0"
}

resource "aws_security_group_rule" "smb" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["10.1.0.0/16", var.open]
  security_group_id = "sg-0123456789abcdef0"
}
