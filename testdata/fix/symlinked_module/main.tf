provider "aws" {
  region = "eu-west-1"
}

module "sg" {
  source   = "./modules/sg"
  for_each = toset(["a", "b"])

  name = "files-${each.key}"
}
