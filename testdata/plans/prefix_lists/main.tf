resource "aws_ec2_managed_prefix_list" "open" {
  name = "open"
}

resource "aws_security_group_rule" "via_list" {
  prefix_list_ids = [aws_ec2_managed_prefix_list.open.id]
}

resource "aws_ec2_managed_prefix_list" "new" {
  name = "new"
}

resource "aws_ec2_managed_prefix_list_entry" "new_world" {
  cidr = "::/0"
  prefix_list_id = aws_ec2_managed_prefix_list.new.id
}

resource "aws_vpc_security_group_ingress_rule" "via_new" {
  prefix_list_id = aws_ec2_managed_prefix_list.new.id
}

resource "aws_ec2_managed_prefix_list" "pending" {
  name = "pending"
}

resource "aws_security_group" "inline_pending" {
  ingress = null
}

resource "aws_security_group_rule" "aws_managed" {
  prefix_list_ids = ["pl-63a5400a"]
}

resource "aws_security_group_rule" "unresolved" {
  prefix_list_ids = var.partner_lists
}

resource "aws_ec2_managed_prefix_list" "clean" {
  name = "clean"
}

resource "aws_security_group_rule" "via_clean" {
  prefix_list_ids = [aws_ec2_managed_prefix_list.clean.id]
}

resource "aws_ec2_managed_prefix_list_entry" "stray" {
  cidr = "0.0.0.0/0"
  prefix_list_id = local.list_id
}
