resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description      = "SMB over IPv6"
    from_port        = 445
    to_port          = 445
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }
}
