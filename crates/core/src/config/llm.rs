//! Which LLM API wabot talks to, resolved from either the `llm` section or the older
//! `perplexity` section. The older section keeps working unchanged: Perplexity retired
//! its chat-completions API, so it now means the Agent API, with the Sonar model names
//! mapped the way Perplexity's migration guide maps them.

use serde::{Deserialize, Serialize};

/// The two request formats wabot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Perplexity's Agent API (`POST {base_url}/v1/agent`, the OpenAI Responses format).
    Agent,
    /// OpenAI-compatible chat completions (`POST {base_url}/chat/completions`).
    ChatCompletions,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Agent => "agent",
            Api::ChatCompletions => "chat-completions",
        }
    }
}

pub const DEFAULT_KEY_VAR: &str = "PERPLEXITY_API_KEY";
const PERPLEXITY_ROOT: &str = "https://api.perplexity.ai";
const OPENAI_ROOT: &str = "https://api.openai.com/v1";

/// The presets the Agent API documents; the older long names are still accepted there.
pub const PRESETS: [&str; 9] = [
    "fast",
    "low",
    "medium",
    "high",
    "xhigh",
    "fast-search",
    "pro-search",
    "deep-research",
    "advanced-deep-research",
];

/// A documented preset, or one pinned to a dated version as Perplexity documents them
/// (`fast@2026-10-16.0`): the name must be known, the version is the API's to judge.
fn is_preset(preset: &str) -> bool {
    let (name, version) = match preset.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (preset, None),
    };
    PRESETS.contains(&name)
        && version.is_none_or(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '.')
        })
}

/// The `llm` section of app.json.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    #[serde(default = "default_api")]
    pub api: Api,
    /// The API root as the provider's own client takes it; defaults per `api`.
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Agent API only: a preset (`fast`, `low`, `medium`, `high`, `xhigh`).
    pub preset: Option<String>,
    /// Not sent when unset, so each model keeps its own default.
    pub temperature: Option<f64>,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: i64,
    /// chat-completions: the request field the cap goes in. OpenAI's API refuses
    /// `max_tokens` for its reasoning models ("Use 'max_completion_tokens' instead"), so
    /// its default is `max_completion_tokens`; other servers' is `max_tokens`.
    pub max_tokens_field: Option<MaxTokensField>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: i64,
    #[serde(default = "yes")]
    pub citations: bool,
    /// Agent API with a model: offer the `web_search` tool (presets bring their own).
    #[serde(default = "yes")]
    pub web_search: bool,
    /// The environment variable (or `.env` key) that holds the API key.
    #[serde(default = "default_key_var")]
    pub api_key_env: String,
}

/// The request field a chat-completions call's output cap goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    MaxTokens,
    MaxCompletionTokens,
}

impl MaxTokensField {
    pub fn name(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

/// The older `perplexity` section, kept so existing configs answer without edits.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerplexitySection {
    pub base_url: String,
    pub model: String,
    pub temperature: f64,
    pub max_tokens: i64,
    pub timeout_seconds: i64,
    pub citations: bool,
}

impl Default for PerplexitySection {
    fn default() -> Self {
        Self {
            base_url: PERPLEXITY_ROOT.into(),
            model: "sonar".into(),
            temperature: 0.2,
            max_tokens: default_max_tokens(),
            timeout_seconds: default_timeout(),
            citations: true,
        }
    }
}

fn default_api() -> Api {
    Api::Agent
}
fn default_max_tokens() -> i64 {
    600
}
fn default_timeout() -> i64 {
    60
}
fn yes() -> bool {
    true
}
fn default_key_var() -> String {
    DEFAULT_KEY_VAR.into()
}

/// What the client sends, whichever section it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmSettings {
    pub api: Api,
    pub base_url: String,
    pub model: Option<String>,
    pub preset: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: i64,
    pub max_tokens_field: MaxTokensField,
    pub timeout_seconds: i64,
    pub citations: bool,
    pub web_search: bool,
    pub api_key_env: String,
    /// Set when an older `perplexity` setting was translated: says what became what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<String>,
    /// The section the settings came from, for error messages that name a field.
    #[serde(skip)]
    pub section: &'static str,
}

impl LlmSettings {
    /// The URL requests go to.
    pub fn endpoint(&self) -> String {
        let root = self.base_url.trim_end_matches('/');
        match self.api {
            Api::Agent => format!("{root}/v1/agent"),
            Api::ChatCompletions => format!("{root}/chat/completions"),
        }
    }

    /// How calls are labelled in the usage log: the model, or the preset.
    pub fn label(&self) -> String {
        match (&self.model, &self.preset) {
            (Some(model), _) => model.clone(),
            (None, Some(preset)) => format!("preset:{preset}"),
            (None, None) => String::new(),
        }
    }

    pub fn from_llm(s: &LlmSection) -> Self {
        let default_root = match s.api {
            Api::Agent => PERPLEXITY_ROOT,
            Api::ChatCompletions => OPENAI_ROOT,
        };
        let base_url = s.base_url.clone().unwrap_or_else(|| default_root.into());
        let max_tokens_field =
            s.max_tokens_field
                .unwrap_or(if base_url.trim_end_matches('/') == OPENAI_ROOT {
                    MaxTokensField::MaxCompletionTokens
                } else {
                    MaxTokensField::MaxTokens
                });
        Self {
            api: s.api,
            base_url,
            model: s.model.clone(),
            preset: s.preset.clone(),
            temperature: s.temperature,
            max_tokens: s.max_tokens,
            max_tokens_field,
            timeout_seconds: s.timeout_seconds,
            citations: s.citations,
            web_search: s.web_search,
            api_key_env: s.api_key_env.clone(),
            mapped: None,
            section: "llm",
        }
    }

    /// The older section on the Agent API. A preset brings its own tuning, so the
    /// temperature is sent only where a model is named.
    pub fn from_perplexity(s: &PerplexitySection) -> Self {
        let (model, preset) = map_sonar_name(&s.model);
        let mapped = match (&model, &preset) {
            (Some(m), _) if *m == s.model => None,
            (Some(m), _) => Some(format!(
                "perplexity.model {:?} → Agent API model {m:?} with web search",
                s.model
            )),
            (None, Some(p)) => Some(format!(
                "perplexity.model {:?} → Agent API preset {p:?}",
                s.model
            )),
            (None, None) => None,
        };
        Self {
            api: Api::Agent,
            base_url: s.base_url.clone(),
            temperature: model.is_some().then_some(s.temperature),
            model,
            preset,
            max_tokens: s.max_tokens,
            max_tokens_field: MaxTokensField::MaxTokens,
            timeout_seconds: s.timeout_seconds,
            citations: s.citations,
            web_search: true,
            api_key_env: DEFAULT_KEY_VAR.into(),
            mapped,
            section: "perplexity",
        }
    }

    /// Every problem with these settings, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let at = self.section;
        let mut problems = Vec::new();
        let url = &self.base_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(format!(
                "{at}.base_url: {url:?} is not an http:// or https:// URL"
            ));
        }
        if let Some(model) = &self.model
            && model.trim().is_empty()
        {
            problems.push(format!("{at}.model: is empty"));
        }
        match (self.api, &self.model, &self.preset) {
            (Api::Agent, None, None) => problems.push(format!(
                "{at}: the Agent API needs a model (e.g. \"perplexity/sonar\") or a preset (fast, low, medium, high, xhigh)"
            )),
            (Api::ChatCompletions, None, _) => {
                problems.push(format!("{at}.model: chat completions need a model"))
            }
            (Api::ChatCompletions, _, Some(_)) => problems.push(format!(
                "{at}.preset: presets exist only on the Agent API (\"api\": \"agent\")"
            )),
            _ => {}
        }
        if let Some(preset) = &self.preset
            && !is_preset(preset)
        {
            problems.push(format!(
                "{at}.preset: {preset:?} is not one of {}, optionally pinned to a version \
                 (\"fast@2026-10-16.0\")",
                PRESETS[..5].join(", ")
            ));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            problems.push(format!(
                "{at}.temperature: must be between 0 and 2, got {t}"
            ));
        }
        if !(1..=128_000).contains(&self.max_tokens) {
            problems.push(format!(
                "{at}.max_tokens: must be between 1 and 128000, got {}",
                self.max_tokens
            ));
        }
        if !(1..=600).contains(&self.timeout_seconds) {
            problems.push(format!(
                "{at}.timeout_seconds: must be between 1 and 600 seconds, got {}",
                self.timeout_seconds
            ));
        }
        let var = &self.api_key_env;
        if !is_variable_name(var) {
            problems.push(format!(
                "{at}.api_key_env: {var:?} is not an environment variable name"
            ));
        }
        problems
    }
}

/// Whether `name` can name an environment variable.
pub fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Perplexity's published mapping from Sonar chat models to the Agent API: `sonar`
/// keeps its model (with web search as a tool), the pro and reasoning models become
/// the `low` (pro-search) preset, deep research the `medium` preset. Names already in
/// the Agent API's `provider/model` form are kept.
fn map_sonar_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    if name.contains('/') {
        return (Some(name.to_string()), None);
    }
    if PRESETS.contains(&name) {
        return (None, Some(name.to_string()));
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("deep-research") {
        (None, Some("medium".into()))
    } else if lower.contains("reasoning") || lower.contains("sonar-pro") {
        (None, Some("low".into()))
    } else {
        (Some("perplexity/sonar".into()), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_presets_are_accepted_pinned_or_not() {
        for ok in ["fast", "xhigh", "fast@2026-10-16.0", "deep-research"] {
            assert!(is_preset(ok), "{ok}");
        }
        for bad in ["turbo", "fast@", "fast@latest!", "@2026-10-16.0"] {
            assert!(!is_preset(bad), "{bad}");
        }
    }

    #[test]
    fn openai_gets_max_completion_tokens_and_other_servers_max_tokens() {
        let section = |json: &str| -> LlmSettings {
            LlmSettings::from_llm(&serde_json::from_str::<LlmSection>(json).unwrap())
        };
        let openai = section(r#"{"api": "chat-completions", "model": "o4-mini"}"#);
        assert_eq!(openai.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        let local = section(
            r#"{"api": "chat-completions", "model": "m", "base_url": "http://127.0.0.1:8080/v1"}"#,
        );
        assert_eq!(local.max_tokens_field, MaxTokensField::MaxTokens);
        let forced = section(
            r#"{"api": "chat-completions", "model": "m", "max_tokens_field": "max_tokens"}"#,
        );
        assert_eq!(
            forced.max_tokens_field,
            MaxTokensField::MaxTokens,
            "the setting wins"
        );
    }

    fn legacy(model: &str) -> LlmSettings {
        LlmSettings::from_perplexity(&PerplexitySection {
            model: model.into(),
            ..Default::default()
        })
    }

    #[test]
    fn old_sonar_names_map_as_perplexity_documents() {
        for (old, model, preset) in [
            ("sonar", Some("perplexity/sonar"), None),
            ("sonar-pro", None, Some("low")),
            ("sonar-reasoning", None, Some("low")),
            ("sonar-reasoning-pro", None, Some("low")),
            ("sonar-deep-research", None, Some("medium")),
            (
                "llama-3.1-sonar-small-128k-online",
                Some("perplexity/sonar"),
                None,
            ),
            ("openai/gpt-5.2", Some("openai/gpt-5.2"), None),
            ("high", None, Some("high")),
        ] {
            let s = legacy(old);
            assert_eq!(s.api, Api::Agent, "{old}");
            assert_eq!(s.model.as_deref(), model, "{old}");
            assert_eq!(s.preset.as_deref(), preset, "{old}");
            assert_eq!(s.endpoint(), "https://api.perplexity.ai/v1/agent");
            assert!(s.problems().is_empty(), "{old}: {:?}", s.problems());
        }
        assert!(legacy("sonar").mapped.unwrap().contains("perplexity/sonar"));
        assert!(legacy("openai/gpt-5.2").mapped.is_none());
        assert_eq!(legacy("sonar-pro").temperature, None);
        assert_eq!(legacy("sonar").temperature, Some(0.2));
    }

    #[test]
    fn each_api_checks_what_it_needs() {
        let section = |json: &str| -> LlmSettings {
            LlmSettings::from_llm(&serde_json::from_str(json).unwrap())
        };
        let chat = section(r#"{"api":"chat-completions","model":"gpt-4o-mini"}"#);
        assert_eq!(
            chat.endpoint(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert!(chat.problems().is_empty());
        for (json, want) in [
            (r#"{"api":"agent"}"#, "needs a model"),
            (
                r#"{"api":"chat-completions"}"#,
                "llm.model: chat completions need a model",
            ),
            (
                r#"{"api":"chat-completions","model":"m","preset":"low"}"#,
                "llm.preset: presets exist only",
            ),
            (
                r#"{"preset":"turbo"}"#,
                "llm.preset: \"turbo\" is not one of",
            ),
            (
                r#"{"model":"m","api_key_env":"MY KEY"}"#,
                "llm.api_key_env:",
            ),
            (r#"{"model":"m","temperature":3}"#, "llm.temperature:"),
            (r#"{"model":"m","base_url":"api.x.com"}"#, "llm.base_url:"),
        ] {
            let problems = section(json).problems();
            assert!(
                problems.iter().any(|p| p.contains(want)),
                "{json}: {problems:?}"
            );
        }
        let agent = section(r#"{"preset":"fast","base_url":"http://127.0.0.1:9/"}"#);
        assert_eq!(agent.endpoint(), "http://127.0.0.1:9/v1/agent");
        assert_eq!(agent.label(), "preset:fast");
    }
}
