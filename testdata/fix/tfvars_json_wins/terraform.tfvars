# Overridden by terraform.tfvars.json, which Terraform reads after this file.
smb_clients = ["10.9.0.0/16"]
