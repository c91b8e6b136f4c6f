# Overridden by b.auto.tfvars.json, which comes later in lexical order.
smb_clients = ["10.8.0.0/16"]
