resource "aws_security_group_rule" "smb_v6" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  ipv6_cidr_blocks  = ["::/0"]
  security_group_id = "sg-0123456789abcdef0"
}
