resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "main"
  }
}

resource "aws_security_group" "shard" {
  count  = 2
  name   = "shard"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group_rule" "low" {
  count             = 2
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["0.0.0.0/1"]
  security_group_id = aws_security_group.shard[count.index].id
}

resource "aws_security_group_rule" "high" {
  count             = 2
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_blocks       = ["128.0.0.0/1"]
  security_group_id = aws_security_group.shard[count.index].id
}
