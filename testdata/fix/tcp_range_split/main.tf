resource "aws_security_group" "app" {
  name   = "app"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "everything over TCP"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group_rule" "web_and_smb" {
  type              = "ingress"
  protocol          = "tcp"
  from_port         = 440
  to_port           = 450
  cidr_blocks       = ["0.0.0.0/0", "10.1.0.0/16"]
  security_group_id = "sg-0123456789abcdef0"
}
