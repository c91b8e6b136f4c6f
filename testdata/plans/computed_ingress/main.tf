resource "aws_security_group" "from_locals" {
  ingress = local.rules
  name = "from-locals"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}

resource "aws_security_group" "rules_elsewhere" {
  name = "rules-elsewhere"
  vpc_id = "vpc-0a1b2c3d4e5f60718"
}
