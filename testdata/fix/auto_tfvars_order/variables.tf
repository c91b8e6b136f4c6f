variable "smb_clients" {
  description = "Networks allowed to reach the file share over SMB"
  type        = list(string)
  default     = []
}
