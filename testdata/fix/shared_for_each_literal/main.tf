resource "aws_security_group_rule" "svc" {
  for_each = {
    https = 443
    smb   = 445
  }

  type              = "ingress"
  protocol          = "tcp"
  from_port         = each.value
  to_port           = each.value
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = "sg-0123456789abcdef0"
}
