//! What the backend needs to know: where the server is, which model, the key, and the limits.

use std::fmt;
use std::time::Duration;

use crate::HttpError;

/// The environment variable the API key is read from unless another is named.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// An API key. Debug and Display print `***`, so a key inside a config, an error or a log line
/// cannot leak by accident; only the request header sees the real value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(key: impl Into<String>) -> Secret {
        Secret(key.into())
    }

    /// Reads the key from the environment variable `name`; `Ok(None)` when it is unset or empty.
    pub fn from_env(name: &str) -> Result<Option<Secret>, HttpError> {
        match std::env::var(name) {
            Ok(key) if !key.trim().is_empty() => Ok(Some(Secret(key.trim().to_string()))),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(HttpError::Config(format!("environment variable {name} is not valid UTF-8")))
            }
        }
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***` (servers sometimes echo it).
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_string() } else { text.replace(&self.0, "***") }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Settings of an OpenAI-compatible endpoint. Build with [`HttpConfig::new`], then adjust fields.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Up to and including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8080/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer ...`; local servers usually need none.
    pub api_key: Option<Secret>,
    /// Hard cap on requests in flight; adaptive concurrency moves below it, never above.
    pub max_in_flight: usize,
    /// Per attempt: sending, waiting and reading the whole reply.
    pub timeout: Duration,
    /// Further tries after the first, for 429, 5xx, timeouts, dropped connections and bad bodies.
    pub max_retries: u32,
    pub requests_per_minute: Option<u32>,
    /// Prompt tokens, estimated as characters / 4 before the call and corrected from `usage`.
    pub input_tokens_per_minute: Option<u32>,
    /// Generated tokens, reserved as `max_tokens` before the call and corrected from `usage`.
    pub output_tokens_per_minute: Option<u32>,
    /// First backoff ceiling; it doubles per try up to `backoff_max` and the wait is drawn
    /// uniformly below it (full jitter), so retrying clients spread out.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this fails the request instead of stalling the run for hours
    /// (daily quotas answer 429 with very long waits).
    pub max_retry_after: Duration,
    /// Halve concurrency when a reply's latency per generated token exceeds this many times its
    /// running minimum: servers like vLLM queue requests instead of answering 429. `None` turns
    /// the latency signal off.
    pub latency_factor: Option<f64>,
    /// Extra calls in [`crate::HttpChatModel::chat_json`] when the reply is not valid JSON.
    pub json_retries: u32,
}

impl HttpConfig {
    /// Defaults meant for a hosted API: 32 in flight, 180 s per attempt, 5 retries, no budgets.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> HttpConfig {
        HttpConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            max_in_flight: 32,
            timeout: Duration::from_secs(180),
            max_retries: 5,
            requests_per_minute: None,
            input_tokens_per_minute: None,
            output_tokens_per_minute: None,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            latency_factor: Some(3.0),
            json_retries: 2,
        }
    }

    /// Sets the key from the environment variable `name`, which must then be set; with `None`,
    /// reads [`DEFAULT_API_KEY_ENV`] if present and otherwise goes without a key (local servers).
    pub fn with_api_key_env(mut self, name: Option<&str>) -> Result<HttpConfig, HttpError> {
        self.api_key = match name {
            Some(name) => Some(Secret::from_env(name)?.ok_or_else(|| {
                HttpError::Config(format!("environment variable {name} (the API key) is not set or empty; export it"))
            })?),
            None => Secret::from_env(DEFAULT_API_KEY_ENV)?,
        };
        Ok(self)
    }

    /// Checks the settings and returns the URL of `path` under the base URL.
    pub(crate) fn endpoint_for(&self, path: &str) -> Result<reqwest::Url, HttpError> {
        let bad = |what: String| Err(HttpError::Config(what));
        if self.model.trim().is_empty() {
            return bad("the model name is empty; pass --model".to_string());
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be at least 1".to_string());
        }
        if self.timeout.is_zero() {
            return bad("the request timeout must be positive".to_string());
        }
        for (name, value) in [
            ("requests_per_minute", self.requests_per_minute),
            ("input_tokens_per_minute", self.input_tokens_per_minute),
            ("output_tokens_per_minute", self.output_tokens_per_minute),
        ] {
            if value == Some(0) {
                return bad(format!("{name} must be at least 1"));
            }
        }
        let url = format!("{}/{path}", self.base_url.trim().trim_end_matches('/'));
        match reqwest::Url::parse(&url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
            _ => bad(format!("base URL {:?} is not an http(s) URL like http://127.0.0.1:8080/v1", self.base_url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_itself() {
        let config = HttpConfig { api_key: Some(Secret::new("sk-abc123")), ..HttpConfig::new("http://h/v1", "m") };
        let shown = format!("{config:?} {} {:?}", Secret::new("sk-abc123"), Secret::new("sk-abc123"));
        assert!(!shown.contains("sk-abc123"), "{shown}");
        assert_eq!(Secret::new("sk-abc123").redact("bad key sk-abc123!"), "bad key ***!");
    }

    #[test]
    fn endpoint_is_checked() {
        let url = HttpConfig::new("http://127.0.0.1:8080/v1/", "m").endpoint_for("chat/completions").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/v1/chat/completions");
        assert!(HttpConfig::new("127.0.0.1:8080", "m").endpoint_for("chat/completions").is_err());
        assert!(HttpConfig::new("http://h/v1", " ").endpoint_for("chat/completions").is_err());
        let zero = HttpConfig { max_in_flight: 0, ..HttpConfig::new("http://h/v1", "m") };
        assert!(zero.endpoint_for("chat/completions").is_err());
    }

    #[test]
    fn named_key_variable_must_exist() {
        let err =
            HttpConfig::new("http://h/v1", "m").with_api_key_env(Some("GENPROMPT_TEST_SURELY_UNSET")).unwrap_err();
        assert!(err.to_string().contains("GENPROMPT_TEST_SURELY_UNSET"), "{err}");
    }
}
