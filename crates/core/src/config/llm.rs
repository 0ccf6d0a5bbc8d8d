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

/// The effort levels the Agent API documents (`effort`, the newer name for the same
/// bundles; not the model's own `reasoning.effort`).
pub const EFFORTS: [&str; 5] = ["fast", "low", "medium", "high", "xhigh"];

/// A documented preset, or one pinned to a dated version as Perplexity documents them
/// (`fast@2026-10-16.0`): the name must be known, the version is the API's to judge.
fn is_preset(preset: &str) -> bool {
    is_pinnable(preset, &PRESETS)
}

fn is_pinnable(given: &str, names: &[&str]) -> bool {
    let (name, version) = match given.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (given, None),
    };
    names.contains(&name)
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
    /// Agent API only: an effort level, Perplexity's newer name for the same bundles.
    pub effort: Option<String>,
    /// What a chat's prompt does to a preset's or effort level's own system prompt.
    #[serde(default)]
    pub preset_prompt: PresetPrompt,
    /// Agent API: whether the model may, must or must not use its tools.
    pub tool_choice: Option<ToolChoice>,
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
    /// The environment variable (or `.env` key) that holds the API key; `null` sends
    /// none (a local server that checks no key).
    #[serde(default = "default_key_var")]
    pub api_key_env: Option<String>,
}

/// How a chat's prompt meets a preset's own. Perplexity: `instructions` replaces the
/// preset's system prompt (its search and citation rules among them), so by default
/// the chat's prompt is added as a system message instead and the preset keeps its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PresetPrompt {
    /// The preset's prompt, then the chat's as a `system` input item.
    #[default]
    Append,
    /// The chat's prompt in `instructions`, in place of the preset's.
    Replace,
    /// The preset's prompt alone; the chat's is not sent.
    Omit,
}

/// The Responses format's `tool_choice`: offering `web_search` does not make the model
/// search; `required` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    Auto,
    Required,
    None,
}

impl ToolChoice {
    pub fn name(self) -> &'static str {
        match self {
            ToolChoice::Auto => "auto",
            ToolChoice::Required => "required",
            ToolChoice::None => "none",
        }
    }
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
    /// Sent only when set (and only with a model): a preset brings its own tuning.
    pub temperature: Option<f64>,
    pub max_tokens: i64,
    pub timeout_seconds: i64,
    pub citations: bool,
}

impl Default for PerplexitySection {
    fn default() -> Self {
        Self {
            base_url: PERPLEXITY_ROOT.into(),
            model: "sonar".into(),
            temperature: None,
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
fn default_key_var() -> Option<String> {
    Some(DEFAULT_KEY_VAR.into())
}

/// What the client sends, whichever section it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmSettings {
    pub api: Api,
    pub base_url: String,
    pub model: Option<String>,
    pub preset: Option<String>,
    pub effort: Option<String>,
    pub preset_prompt: PresetPrompt,
    pub tool_choice: Option<ToolChoice>,
    pub temperature: Option<f64>,
    pub max_tokens: i64,
    pub max_tokens_field: MaxTokensField,
    pub timeout_seconds: i64,
    pub citations: bool,
    pub web_search: bool,
    /// `None`: the server checks no key, and none is sent.
    pub api_key_env: Option<String>,
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
        match (&self.model, self.bundle()) {
            (Some(model), _) => model.clone(),
            (None, Some((field, name))) => format!("{field}:{name}"),
            (None, None) => String::new(),
        }
    }

    /// The Agent API's maintained bundle, as the field it goes in and its name: a
    /// `preset` or an `effort` level.
    pub fn bundle(&self) -> Option<(&'static str, &str)> {
        match (&self.preset, &self.effort) {
            (Some(preset), _) => Some(("preset", preset)),
            (None, Some(effort)) => Some(("effort", effort)),
            (None, None) => None,
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
            effort: s.effort.clone(),
            preset_prompt: s.preset_prompt,
            tool_choice: s.tool_choice,
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
            temperature: s.temperature.filter(|_| model.is_some()),
            model,
            preset,
            effort: None,
            preset_prompt: PresetPrompt::default(),
            tool_choice: None,
            max_tokens: s.max_tokens,
            max_tokens_field: MaxTokensField::MaxTokens,
            timeout_seconds: s.timeout_seconds,
            citations: s.citations,
            web_search: true,
            api_key_env: default_key_var(),
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
        match (self.api, &self.model, self.bundle()) {
            (Api::Agent, None, None) => problems.push(format!(
                "{at}: the Agent API needs a model (e.g. \"perplexity/sonar\"), a preset or an effort level (fast, low, medium, high, xhigh)"
            )),
            (Api::ChatCompletions, None, _) => {
                problems.push(format!("{at}.model: chat completions need a model"))
            }
            (Api::ChatCompletions, _, Some((field, _))) => problems.push(format!(
                "{at}.{field}: presets and effort levels exist only on the Agent API (\"api\": \"agent\")"
            )),
            _ => {}
        }
        if self.preset.is_some() && self.effort.is_some() {
            problems.push(format!(
                "{at}.effort: set a preset or an effort level, not both (effort is the newer name for the same bundles)"
            ));
        }
        if let Some(effort) = &self.effort
            && !is_pinnable(effort, &EFFORTS)
        {
            problems.push(format!(
                "{at}.effort: {effort:?} is not one of {}, optionally pinned to a version \
                 (\"fast@2026-10-16.0\")",
                EFFORTS.join(", ")
            ));
        }
        if self.api == Api::ChatCompletions && self.tool_choice.is_some() {
            problems.push(format!(
                "{at}.tool_choice: wabot offers tools only on the Agent API; chat completions refuse a tool choice without tools"
            ));
        } else if self.tool_choice.is_some() && self.bundle().is_none() && !self.web_search {
            problems.push(format!(
                "{at}.tool_choice: no tool is offered ({at}.web_search is false)"
            ));
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
        if let Some(var) = &self.api_key_env
            && !is_variable_name(var)
        {
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
        assert_eq!(legacy("sonar").temperature, None, "sent only when set");
        let set = |model: &str| {
            LlmSettings::from_perplexity(&PerplexitySection {
                model: model.into(),
                temperature: Some(0.4),
                ..Default::default()
            })
        };
        assert_eq!(set("sonar").temperature, Some(0.4));
        assert_eq!(set("sonar-pro").temperature, None, "a preset tunes itself");
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
                "llm.preset: presets and effort levels exist only",
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
            (r#"{"effort":"max"}"#, "llm.effort: \"max\" is not one of"),
            (r#"{"effort":"low","preset":"low"}"#, "not both"),
            (
                r#"{"api":"chat-completions","model":"m","effort":"low"}"#,
                "llm.effort: presets and effort levels exist only",
            ),
            (
                r#"{"api":"chat-completions","model":"m","tool_choice":"required"}"#,
                "llm.tool_choice:",
            ),
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
        let effort = section(r#"{"effort":"fast@2026-10-16.0"}"#);
        assert!(effort.problems().is_empty(), "{:?}", effort.problems());
        assert_eq!(effort.bundle(), Some(("effort", "fast@2026-10-16.0")));
        assert_eq!(effort.label(), "effort:fast@2026-10-16.0");
        let keyless = section(r#"{"model":"m","api_key_env":null}"#);
        assert_eq!(keyless.api_key_env, None);
        assert!(keyless.problems().is_empty());
    }
}
