resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "main"
  }
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

# Edited after the plan: the plan records a reference to aws_vpc.main.cidr_block here.
resource "aws_security_group_rule" "smb_from_vpc" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["10.0.0.0/16"]
  security_group_id = aws_security_group.files.id
}
