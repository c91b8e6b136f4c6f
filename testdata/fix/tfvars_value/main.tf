provider "aws" {
  region = "eu-west-1"
}

resource "aws_security_group" "files" {
  name   = "files"
  vpc_id = "vpc-0a1b2c3d4e5f60718"

  ingress {
    description = "SMB"
    from_port   = 445
    to_port     = 445
    protocol    = "tcp"
    cidr_blocks = var.smb_clients
  }
}

output "smb_clients" {
  description = "Who may reach the file share"
  value       = var.smb_clients
}
