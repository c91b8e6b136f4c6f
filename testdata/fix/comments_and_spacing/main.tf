provider "aws" {
  region = "eu-west-1"
}

# File server security group.
resource "aws_security_group"   "files" {
	name        =   "files"   # tab-indented line
  vpc_id      = "vpc-0a1b2c3d4e5f60718"

  // SSH stays internal
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [ "10.0.0.0/8" ] # office
  }

  /* SMB for the branch offices,
     and (for now) everyone else */
  ingress {
    description      = "SMB"
    from_port        =   445
    to_port          = 445
    protocol         = "tcp"
    cidr_blocks      = [
      "172.16.0.0/12",   # branch VPN
      "0.0.0.0/0",       # TODO: narrow this down
    ]
	ipv6_cidr_blocks = []
  }
}

# NetBIOS for the old print server.
resource "aws_security_group_rule"    "netbios" {
  type              =  "ingress"
  protocol          = "udp"
  from_port         = 137
  to_port           = 139
  cidr_blocks       = [ "0.0.0.0/0" ]   # legacy, see ticket OPS-12
  security_group_id = "sg-0123456789abcdef0"
}
