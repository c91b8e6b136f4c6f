variable "smb_port" {
  default = 445
}

variable "https_port" {
  default = 443
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "HTTPS"
    from_port   = var.https_port
    to_port     = var.https_port
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "SMB"
    from_port   = var.smb_port
    to_port     = var.smb_port
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
