//! Stage 6 (a deployment of the pipeline): the HCP Terraform / Terraform Enterprise run task
//! service, `portgate serve`.
//!
//! TFC POSTs a signed request ([`request`]), the service checks the signature
//! ([`signature`]), answers 200 at once, and in the background fetches the plan JSON, runs the
//! same check as `portgate check`, and PATCHes the verdict with one outcome per finding
//! ([`outcomes`]) back to TFC.

pub mod outcomes;
pub mod request;
pub mod signature;
