resource "aws_security_group_rule" "smb_world" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = "sg-0123456789abcdef0"
}

resource "aws_security_group_rule" "smb_upper_half" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["128.0.0.0/1"]
  security_group_id = "sg-0123456789abcdef0"
}
