resource "aws_vpc" "main" {
  cidr_block = "0.0.0.0/0"
  tags = {
    Name = "main"
  }
}

resource "aws_security_group" "files" {
  description = "File shares"
  name = "files"
  vpc_id = aws_vpc.main.id
}

resource "aws_security_group_rule" "smb_from_vpc" {
  cidr_blocks = [aws_vpc.main.cidr_block]
  from_port = 445
  protocol = "tcp"
  security_group_id = aws_security_group.files.id
  to_port = 445
  type = "ingress"
}
