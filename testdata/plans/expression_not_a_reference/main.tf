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

# timestamp() is unknown until apply and is no reference: the plan records only
# aws_vpc.main.cidr_block (10.0.0.0/16), yet AWS gets 0.0.0.0/0.
resource "aws_security_group_rule" "conditional" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = [timestamp() != "" ? "0.0.0.0/0" : aws_vpc.main.cidr_block]
  security_group_id = aws_security_group.files.id
}

# The plan records only aws_security_group.files.id, yet the rule lands in another group.
resource "aws_security_group_rule" "conditional_group" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["0.0.0.0/1"]
  security_group_id = timestamp() != "" ? "sg-0123456789abcdef0" : aws_security_group.files.id
}
