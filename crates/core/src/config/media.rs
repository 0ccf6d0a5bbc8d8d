//! The `transcription` and `vision` sections: their ranges, and what of the media
//! leaves this machine when they are on.

use std::net::IpAddr;

use super::file::AppFile;
use super::llm::{LlmSettings, is_variable_name};

/// The largest file either section may send: what the providers take at most.
const MAX_SENT_BYTES: i64 = 2 << 30;
const MAX_IMAGE_BYTES: i64 = 50 * 1024 * 1024;

/// Every problem with the two sections, each naming its field.
pub fn problems(file: &AppFile, lease_seconds: i64) -> Vec<String> {
    let mut problems = Vec::new();
    let t = &file.transcription;
    let url = &t.base_url;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(format!(
            "transcription.base_url: {url:?} is not an http:// or https:// URL"
        ));
    }
    if t.model.trim().is_empty() {
        problems.push("transcription.model: is empty".into());
    }
    if let Some(var) = &t.api_key_env
        && !is_variable_name(var)
    {
        problems.push(format!(
            "transcription.api_key_env: {var:?} is not an environment variable name"
        ));
    }
    if let Some(language) = &t.language {
        let iso =
            (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
        if !iso {
            problems.push(format!(
                "transcription.language: {language:?} is not an ISO-639-1 code such as \"en\" or \"de\""
            ));
        }
    }
    if !(1..=MAX_SENT_BYTES).contains(&t.max_bytes) {
        problems.push(format!(
            "transcription.max_bytes: must be between 1 and {MAX_SENT_BYTES} bytes (2 GiB), got {}",
            t.max_bytes
        ));
    }
    if !(1..=600).contains(&t.timeout_seconds) {
        problems.push(format!(
            "transcription.timeout_seconds: must be between 1 and 600 seconds, got {}",
            t.timeout_seconds
        ));
    } else if t.enabled && lease_seconds <= t.timeout_seconds {
        problems.push(format!(
            "polling.lease_seconds: must be longer than transcription.timeout_seconds ({}), got {lease_seconds}",
            t.timeout_seconds
        ));
    }
    let v = &file.vision;
    if !(1..=MAX_IMAGE_BYTES).contains(&v.max_bytes) {
        problems.push(format!(
            "vision.max_bytes: must be between 1 and {MAX_IMAGE_BYTES} bytes (50 MiB), got {}",
            v.max_bytes
        ));
    }
    problems
}

/// What `config check` points out: media that leaves this machine, and settings that
/// cannot work together.
pub fn warnings(file: &AppFile, llm: &LlmSettings) -> Vec<String> {
    let mut warnings = Vec::new();
    let t = &file.transcription;
    if t.enabled {
        if let Some(host) = remote_host(&t.base_url) {
            warnings.push(format!(
                "transcription sends voice notes to {host}, which is not this machine or its local network"
            ));
        }
        if !file.media.download {
            warnings.push(
                "transcription is on but media.download is off: live voice notes are never downloaded, so their turns say they could not be transcribed (imported ones still are)"
                    .into(),
            );
        }
    }
    if file.vision.enabled {
        if let Some(host) = remote_host(&llm.base_url) {
            warnings.push(format!(
                "vision sends the images of monitored chats to {host} ({}.base_url), which is not this machine or its local network",
                llm.section
            ));
        }
        if !file.media.download {
            warnings.push(
                "vision is on but media.download is off: live images are never downloaded, so the model gets their captions only"
                    .into(),
            );
        }
    }
    warnings
}

/// The host of `url` unless it is this machine or a private network.
pub fn remote_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    }
    .to_ascii_lowercase();
    let local_name = host == "localhost"
        || [".localhost", ".local", ".lan", ".internal", ".home.arpa"]
            .iter()
            .any(|suffix| host.ends_with(suffix));
    let local_ip = host.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    });
    (!(local_name || local_ip)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints_are_told_from_remote_ones() {
        for local in [
            "http://127.0.0.1:8000/v1",
            "http://localhost:9000",
            "http://[::1]:8080/v1",
            "http://192.168.1.20:8000/v1",
            "http://10.0.0.5/v1",
            "http://whisper.lan/v1",
            "http://user@172.16.0.1:80",
        ] {
            assert_eq!(remote_host(local), None, "{local}");
        }
        for (remote, host) in [
            ("https://api.openai.com/v1", "api.openai.com"),
            ("https://api.groq.com/openai/v1", "api.groq.com"),
            ("http://8.8.8.8:8000", "8.8.8.8"),
            ("https://api.perplexity.ai", "api.perplexity.ai"),
        ] {
            assert_eq!(remote_host(remote).as_deref(), Some(host), "{remote}");
        }
    }

    #[test]
    fn every_field_is_checked() {
        let file: AppFile = serde_json::from_value(serde_json::json!({
            "transcription": {"enabled": true, "base_url": "api.openai.com", "model": " ",
                "api_key_env": "MY KEY", "language": "English", "max_bytes": 0,
                "timeout_seconds": 100},
            "vision": {"max_bytes": 0}
        }))
        .unwrap();
        let found = problems(&file, 60).join("\n");
        for field in [
            "transcription.base_url",
            "transcription.model",
            "transcription.api_key_env",
            "transcription.language",
            "transcription.max_bytes",
            "polling.lease_seconds: must be longer than transcription.timeout_seconds",
            "vision.max_bytes",
        ] {
            assert!(found.contains(field), "{field}: {found}");
        }
        let defaults: AppFile = serde_json::from_str("{}").unwrap();
        assert!(problems(&defaults, 300).is_empty());
    }
}
