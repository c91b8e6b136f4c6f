//! The run task request HCP Terraform / Terraform Enterprise POSTs to the service.
//!
//! Unknown fields are ignored and everything not needed is optional, so new TFC fields never
//! break the service. Both `capabilities` and the misspelled `capabilitites` (go-tfe's tag,
//! sent by some TFE versions) are accepted. The access token is a secret: `Debug` redacts it.

use std::fmt;

use serde::Deserialize;

/// The `access_token` of the verification request TFC sends when a task is created.
pub const VERIFICATION_TOKEN: &str = "test-token";

/// A bearer token that never shows up in logs or errors.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> AccessToken {
        AccessToken(token.into())
    }

    /// The token itself, for an `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub outcomes: bool,
}

/// The run stage a request is sent at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    PrePlan,
    PostPlan,
    PreApply,
    PostApply,
}

impl Stage {
    /// Parses `post_plan` (and the hyphenated `post-plan` of old TFE releases).
    pub fn parse(text: &str) -> Option<Stage> {
        match text.replace('-', "_").to_ascii_lowercase().as_str() {
            "pre_plan" => Some(Stage::PrePlan),
            "post_plan" => Some(Stage::PostPlan),
            "pre_apply" => Some(Stage::PreApply),
            "post_apply" => Some(Stage::PostApply),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PrePlan => "pre_plan",
            Stage::PostPlan => "post_plan",
            Stage::PreApply => "pre_apply",
            Stage::PostApply => "post_apply",
        }
    }
}

/// The fields of a run task request portgate uses.
#[derive(Debug, Clone, Deserialize)]
pub struct RunTaskRequest {
    pub payload_version: Option<u32>,
    #[serde(default)]
    pub stage: String,
    pub access_token: AccessToken,
    #[serde(default, alias = "capabilitites")]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub task_result_callback_url: String,
    pub task_result_enforcement_level: Option<String>,
    #[serde(default)]
    pub task_result_id: String,
    pub plan_json_api_url: Option<String>,
    pub configuration_version_download_url: Option<String>,
    pub configuration_version_id: Option<String>,
    pub run_id: Option<String>,
    pub run_app_url: Option<String>,
    pub is_speculative: Option<bool>,
    pub organization_name: Option<String>,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub workspace_working_directory: Option<String>,
}

impl RunTaskRequest {
    /// The request TFC sends to validate the endpoint and HMAC key: answer 200, never call back.
    pub fn is_verification(&self) -> bool {
        self.access_token.expose() == VERIFICATION_TOKEN
    }

    /// The run's stage, when it is one portgate knows.
    pub fn stage(&self) -> Option<Stage> {
        Stage::parse(&self.stage)
    }

    /// Whether the run task is mandatory (blocks the run when it fails).
    pub fn is_mandatory(&self) -> bool {
        self.task_result_enforcement_level.as_deref() == Some("mandatory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_capabilities_are_read_and_unknown_fields_ignored() {
        for key in ["capabilities", "capabilitites"] {
            let body = format!(
                r#"{{"payload_version":1,"stage":"post_plan","access_token":"t","{key}":{{"outcomes":true}},
                "task_result_callback_url":"https://app.terraform.io/cb","task_result_id":"taskrs-1",
                "brand_new_field":{{"x":1}}}}"#
            );
            let request: RunTaskRequest = serde_json::from_str(&body).unwrap();
            assert_eq!(
                request.capabilities,
                Some(Capabilities { outcomes: true }),
                "{key}"
            );
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let request: RunTaskRequest =
            serde_json::from_str(r#"{"access_token":"s3cr3t-token","stage":"post-plan"}"#).unwrap();
        assert!(!format!("{request:?}").contains("s3cr3t"));
        assert_eq!(request.stage(), Some(Stage::PostPlan));
        assert!(!request.is_verification());
    }
}
