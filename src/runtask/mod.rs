//! Stage 7 (a deployment of the pipeline): the HCP Terraform / Terraform Enterprise run task
//! service, `portgate serve`. It must not judge anything itself: it runs the same check as
//! `portgate check` ([`crate::check_top`]) and sends what the gate decided.
//!
//! TFC POSTs a signed request ([`request`]), the service checks the signature
//! ([`signature`]), answers 200 at once, and in the background fetches the plan JSON, runs the
//! same check as `portgate check`, and PATCHes the verdict with one outcome per finding
//! ([`outcomes`]) back to TFC.
//!
//! [`server`] is the HTTP side (checks, de-duplication, admission, shutdown), [`job`] the
//! background work of one request, [`client`] the outbound HTTP (downloads with hand-followed
//! redirects, callbacks with retries; the token only ever goes to the configured TFC origin),
//! and [`tarball`] unpacks the run's configuration safely for source patches.

pub mod client;
pub mod job;
pub mod outcomes;
pub mod request;
pub mod server;
pub mod signature;
pub mod tarball;
