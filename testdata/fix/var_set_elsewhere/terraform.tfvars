# Who may reach the file share.
smb_clients = ["10.9.0.0/16"]
