//! `[guard]`: alerts (docs/GUARD.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use crate::guard::{GuardOptions, WebhookConfig};

/// `[guard]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Record alerts in the log (and run the detectors).
    pub enabled: bool,
    /// The log alerts are recorded in; default: the first events log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_log: Option<String>,
    /// A TOML file with the detectors' settings (docs/GUARD.md); default:
    /// every detector with its documented defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detectors: Option<std::path::PathBuf>,
    /// `[guard.webhook]`.
    pub webhook: WebhookSection,
}

/// `[guard.webhook]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSection {
    /// Post each recorded alert here (JSON); none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How long one attempt may take.
    #[serde(with = "duration::serde_duration")]
    pub timeout: Duration,
    /// Attempts per alert (exponential backoff between them).
    pub max_attempts: u32,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        let o = GuardOptions::default();
        GuardConfig {
            enabled: o.enabled,
            alerts_log: o.alerts_log,
            detectors: None,
            webhook: WebhookSection::default(),
        }
    }
}

impl Default for WebhookSection {
    fn default() -> WebhookSection {
        let w = WebhookConfig::new("");
        WebhookSection {
            url: None,
            timeout: w.timeout,
            max_attempts: w.max_attempts,
        }
    }
}

impl GuardConfig {
    /// The options this section describes.
    ///
    /// # Errors
    ///
    /// A webhook URL that is not http(s), no attempts, or a detectors file
    /// that cannot be read or holds a bad setting.
    pub fn to_options(&self) -> Result<GuardOptions, String> {
        let detectors = match &self.detectors {
            None => vellum_guard::GuardConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("guard.detectors: cannot read {}: {e}", path.display()))?;
                let cfg: vellum_guard::GuardConfig = toml::from_str(&text)
                    .map_err(|e| format!("guard.detectors: {}: {e}", path.display()))?;
                // Thresholds, patterns and hours are checked here, before
                // the server starts.
                vellum_guard::Detectors::new(&cfg)
                    .map_err(|e| format!("guard.detectors: {}: {e}", path.display()))?;
                cfg
            }
        };
        let webhook = match &self.webhook.url {
            None => None,
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!(
                        "guard.webhook.url: {url:?} is not an http:// or https:// URL"
                    ));
                }
                if self.webhook.max_attempts == 0 {
                    return Err("guard.webhook.max_attempts: at least 1".into());
                }
                Some(WebhookConfig {
                    url: url.clone(),
                    timeout: self.webhook.timeout,
                    max_attempts: self.webhook.max_attempts,
                })
            }
        };
        Ok(GuardOptions {
            enabled: self.enabled,
            alerts_log: self.alerts_log.clone(),
            webhook,
            detectors,
        })
    }
}
