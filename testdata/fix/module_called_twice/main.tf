provider "aws" {
  region = "eu-west-1"
}

# One module, two calls: only the file share opens a guarded port.
module "files" {
  source  = "./modules/sg"
  name    = "files"
  port    = 445
  clients = ["0.0.0.0/0"]
}

module "web" {
  source  = "./modules/sg"
  name    = "web"
  port    = 443
  clients = ["0.0.0.0/0"]
}
