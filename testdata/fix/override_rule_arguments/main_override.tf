# Opened up during an incident and never closed.
resource "aws_security_group_rule" "smb" {
  cidr_blocks = ["0.0.0.0/0"]
}
