provider "aws" {
  region = "eu-west-1"
}

variable "smb_clients" {
  type    = list(string)
  default = ["0.0.0.0/0"]
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SMB"
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    cidr_blocks = var.smb_clients
  }
}

# The same variable also opens the subnet's network ACL: portgate does not derive NACLs, so an
# edit of the variable could change it unseen.
resource "aws_network_acl_rule" "smb" {
  network_acl_id = "acl-0a1b2c3d4e5f60718"
  rule_number    = 100
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.smb_clients[0]
  from_port      = 445
  to_port        = 445
}
