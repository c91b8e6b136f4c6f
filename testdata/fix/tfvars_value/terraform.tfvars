# Who may reach the file share.
smb_clients = ["0.0.0.0/0"]
