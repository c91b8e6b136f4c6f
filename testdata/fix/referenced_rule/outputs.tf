output "smb_rule_id" {
  value = aws_security_group_rule.smb_v6.id
}
