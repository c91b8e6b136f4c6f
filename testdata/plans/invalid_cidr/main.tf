resource "aws_security_group" "files" {
  description = "File shares"
  name = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group_rule" "smb_typo" {
  cidr_blocks = ["10.0.0/8"]
  from_port = 445
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "ingress"
}
