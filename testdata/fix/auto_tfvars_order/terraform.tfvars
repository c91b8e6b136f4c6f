# Read first: every auto.tfvars file below overrides it.
smb_clients = ["10.9.0.0/16"]
