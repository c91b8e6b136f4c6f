module "files" {
  source  = "app.terraform.io/acme/sg-files/aws"
  version = "1.0.0"
  name    = "files"
  vpc_id  = "vpc-0a1b2c3d4e5f60718"
}

module "dyn" {
  source  = "app.terraform.io/acme/sg-dyn/aws"
  version = "1.0.0"
  name    = "dyn"
  vpc_id  = "vpc-0a1b2c3d4e5f60718"
}
