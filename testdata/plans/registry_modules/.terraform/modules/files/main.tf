variable "name" {}
variable "vpc_id" {}

# Its rules are attached by the module's users, as aws_vpc_security_group_ingress_rule.
resource "aws_security_group" "this" {
  name   = var.name
  vpc_id = var.vpc_id
}
