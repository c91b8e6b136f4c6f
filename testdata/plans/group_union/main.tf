resource "aws_security_group" "split" {
  ingress = null
}

resource "aws_vpc_security_group_ingress_rule" "foreign_low" {
  security_group_id = "sg-0f0f0f0f0f0f0f0f0"
}

resource "aws_vpc_security_group_ingress_rule" "foreign_high" {
  security_group_id = "sg-0f0f0f0f0f0f0f0f0"
}

resource "aws_security_group" "mixed" {
  name = "mixed"
}

resource "aws_security_group_rule" "mixed_tcp" {
  security_group_id = aws_security_group.mixed.id
  type = "ingress"
}

resource "aws_security_group_rule" "mixed_all" {
  security_group_id = aws_security_group.mixed.id
  type = "ingress"
}

resource "aws_security_group" "netbios" {
  ingress = null
}

resource "aws_security_group_rule" "netbios_rest" {
  security_group_id = aws_security_group.netbios.id
}

resource "aws_security_group" "different_ports" {
  ingress = null
}

resource "aws_security_group_rule" "lost" {
  security_group_id = local.group_id
}

resource "aws_security_group_rule" "lost_private" {
  security_group_id = local.group_id
}

resource "aws_vpc_security_group_ingress_rule" "partial_low" {
  security_group_id = "sg-0e0e0e0e0e0e0e0e0"
}

resource "aws_security_group_rule" "partial_high" {
  security_group_id = "sg-0e0e0e0e0e0e0e0e0"
  type              = "ingress"
  cidr_blocks       = ["128.0.0.0/1", "${aws_eip.office.public_ip}/32"]
}
