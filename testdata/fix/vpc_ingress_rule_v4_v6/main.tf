provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_vpc_security_group_ingress_rule" "smb_v4" {
  security_group_id = aws_security_group.files.id
  description       = "SMB"
  ip_protocol       = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "netbios_v6" {
  security_group_id = aws_security_group.files.id
  description       = "NetBIOS name and datagram services"
  ip_protocol       = "udp"
  from_port         = 137
  to_port           = 138
  cidr_ipv6         = "::/0"
}
