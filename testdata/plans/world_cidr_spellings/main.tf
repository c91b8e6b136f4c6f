resource "aws_security_group" "files" {
  description = "File shares"
  name = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group_rule" "split_halves" {
  cidr_blocks = ["0.0.0.0/1", "128.0.0.0/1"]
  from_port = 445
  ipv6_cidr_blocks = ["::/1", "8000::/1"]
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "ingress"
}

resource "aws_security_group_rule" "non_canonical" {
  cidr_blocks = ["1.2.3.4/0"]
  from_port = 445
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "ingress"
}
