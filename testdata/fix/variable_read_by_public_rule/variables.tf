variable "clients" {
  description = "Networks that reach the file share and the web front"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
