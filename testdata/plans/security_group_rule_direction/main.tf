resource "aws_security_group" "files" {
  description = "File shares"
  name = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group_rule" "smb_in" {
  cidr_blocks = ["0.0.0.0/0"]
  from_port = 445
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "ingress"
}

resource "aws_security_group_rule" "smb_out" {
  cidr_blocks = ["0.0.0.0/0"]
  from_port = 445
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "egress"
}
