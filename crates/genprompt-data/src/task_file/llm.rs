//! The optional `[llm]` table: which endpoint a task runs on and what its tokens cost. Command
//! line flags override it; the API key itself never goes here, only the name of its variable.

use serde::Deserialize;
use toml::Spanned;

/// Endpoint settings from the task file, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmSettings {
    pub base_url: Option<String>,
    /// Several endpoints serving the same model (`base_urls = [...]`); requests are spread over
    /// them. Empty unless given; never set together with `base_url`.
    pub base_urls: Vec<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub max_in_flight: Option<usize>,
    pub requests_per_minute: Option<u32>,
    pub input_tokens_per_minute: Option<u32>,
    pub output_tokens_per_minute: Option<u32>,
    pub timeout_s: Option<f64>,
    /// US dollars per million prompt tokens.
    pub price_input_per_million: Option<f64>,
    /// US dollars per million completion tokens.
    pub price_output_per_million: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LlmTable {
    base_url: Option<Spanned<String>>,
    base_urls: Option<Spanned<Vec<String>>>,
    model: Option<Spanned<String>>,
    api_key_env: Option<Spanned<String>>,
    /// Present only to refuse it with a clear message.
    api_key: Option<Spanned<toml::Value>>,
    max_in_flight: Option<Spanned<i64>>,
    requests_per_minute: Option<Spanned<i64>>,
    input_tokens_per_minute: Option<Spanned<i64>>,
    output_tokens_per_minute: Option<Spanned<i64>>,
    timeout_s: Option<Spanned<f64>>,
    price_input_per_million: Option<Spanned<f64>>,
    price_output_per_million: Option<Spanned<f64>>,
}

impl LlmTable {
    /// Checks every field; `problem(offset, message)` collects what is wrong.
    pub(super) fn resolve(&self, problem: &mut impl FnMut(usize, String)) -> LlmSettings {
        if let Some(key) = &self.api_key {
            // Say where, never what: the value may be a real key.
            problem(
                key.span().start,
                "API keys do not belong in task files; put the key in an environment variable and name it with `api_key_env`"
                    .to_string(),
            );
        }
        let text = |field: &Option<Spanned<String>>, problem: &mut dyn FnMut(usize, String)| {
            let field = field.as_ref()?;
            if field.get_ref().trim().is_empty() {
                problem(field.span().start, "must not be empty; leave the field out instead".to_string());
                return None;
            }
            Some(field.get_ref().trim().to_string())
        };
        let base_url = text(&self.base_url, problem);
        if let (Some(url), Some(field)) = (&base_url, &self.base_url)
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problem(field.span().start, format!("base_url must start with http:// or https://, got \"{url}\""));
        }
        let mut base_urls = Vec::new();
        if let Some(field) = &self.base_urls {
            let at = field.span().start;
            if self.base_url.is_some() {
                problem(at, "give either base_url or base_urls, not both".to_string());
            } else if field.get_ref().is_empty() {
                problem(at, "base_urls must list at least one URL; leave the field out instead".to_string());
            }
            for url in field.get_ref().iter().map(|url| url.trim()) {
                if url.starts_with("http://") || url.starts_with("https://") {
                    base_urls.push(url.to_string());
                } else {
                    problem(at, format!("every base_urls entry must start with http:// or https://, got \"{url}\""));
                }
            }
        }
        let api_key_env = text(&self.api_key_env, problem);
        if let (Some(name), Some(field)) = (&api_key_env, &self.api_key_env)
            && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problem(
                field.span().start,
                "api_key_env names an environment variable (letters, digits, _), not the key itself".to_string(),
            );
        }
        let count = |field: &Option<Spanned<i64>>, name: &str, problem: &mut dyn FnMut(usize, String)| {
            let field = field.as_ref()?;
            match u32::try_from(*field.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    problem(
                        field.span().start,
                        format!("{name} must be a positive whole number, got {}", field.get_ref()),
                    );
                    None
                }
            }
        };
        let positive =
            |field: &Option<Spanned<f64>>, name: &str, zero_ok: bool, problem: &mut dyn FnMut(usize, String)| {
                let field = field.as_ref()?;
                let value = *field.get_ref();
                if value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) {
                    Some(value)
                } else {
                    problem(
                        field.span().start,
                        format!(
                            "{name} must be a {} number, got {value}",
                            if zero_ok { "non-negative" } else { "positive" }
                        ),
                    );
                    None
                }
            };
        LlmSettings {
            base_url,
            base_urls,
            model: text(&self.model, problem),
            api_key_env,
            max_in_flight: count(&self.max_in_flight, "max_in_flight", problem).map(|n| n as usize),
            requests_per_minute: count(&self.requests_per_minute, "requests_per_minute", problem),
            input_tokens_per_minute: count(&self.input_tokens_per_minute, "input_tokens_per_minute", problem),
            output_tokens_per_minute: count(&self.output_tokens_per_minute, "output_tokens_per_minute", problem),
            timeout_s: positive(&self.timeout_s, "timeout_s", false, problem),
            price_input_per_million: positive(&self.price_input_per_million, "price_input_per_million", true, problem),
            price_output_per_million: positive(
                &self.price_output_per_million,
                "price_output_per_million",
                true,
                problem,
            ),
        }
    }
}
