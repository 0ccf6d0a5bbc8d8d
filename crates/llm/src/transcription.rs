//! Speech to text through any OpenAI-compatible `POST {base_url}/audio/transcriptions`
//! (OpenAI, Groq, speaches/faster-whisper-server, whisper.cpp's server): the file as it
//! was received, `model`, optional `language` and `response_format=json`, answered by
//! `{"text": …}`. Failures are classified exactly like LLM calls.

use std::time::Duration;

use serde::Deserialize;

use super::multipart::Form;
use super::{LlmError, classify, read, unreadable};
use crate::config::{Config, Secret, TranscriptionSection};
use crate::error;

pub struct Transcriber {
    agent: ureq::Agent,
    url: String,
    model: String,
    language: Option<String>,
    /// The variable the key came from, and the key.
    key: Option<(String, Secret)>,
}

#[derive(Deserialize)]
struct Transcription {
    text: String,
}

impl Transcriber {
    pub fn new(section: &TranscriptionSection, key: Option<&Secret>) -> Self {
        let timeout = Duration::from_secs(section.timeout_seconds.unsigned_abs());
        let agent = wabot_http::agent(timeout);
        Self {
            agent,
            url: endpoint(&section.base_url),
            model: section.model.clone(),
            language: section.language.clone(),
            key: section.api_key_env.clone().zip(key.cloned()),
        }
    }

    /// The client `config` asks for: `None` while transcription is off. A key variable
    /// that is named but not set is a configuration error (exit 78).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let section = &config.file.transcription;
        if !section.enabled {
            return Ok(None);
        }
        if let (Some(var), None) = (&section.api_key_env, &config.transcription_key) {
            return Err(error::config(format!(
                "{var} (transcription.api_key_env) is not set: put the transcription key in the environment or in a .env file beside app.json"
            )));
        }
        Ok(Some(Self::new(section, config.transcription_key.as_ref())))
    }

    /// The text spoken in `bytes` (a file named `file_name` of `content_type`, sent as
    /// it is: WhatsApp's Ogg/Opus is what the endpoints take). Empty for silence.
    pub fn transcribe(
        &self,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<String, LlmError> {
        let mut form = Form::new()
            .file("file", file_name, content_type, bytes)
            .text("model", &self.model);
        if let Some(language) = &self.language {
            form = form.text("language", language);
        }
        let (form_type, body) = form.text("response_format", "json").finish();
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", form_type)
            .header("Accept", "application/json");
        if let Some((_, key)) = &self.key {
            request = request.header("Authorization", format!("Bearer {}", key.expose()));
        }
        let (status, retry_after, answer) = read(request.send(&body[..]))?;
        if (200..300).contains(&status) {
            let parsed: Transcription =
                serde_json::from_str(&answer).map_err(|e| unreadable(&e, &answer))?;
            return Ok(parsed.text.trim().to_string());
        }
        let key = match &self.key {
            Some((var, _)) => format!("the API key in {var}"),
            None => "a request without a key (transcription.api_key_env is unset)".into(),
        };
        Err(classify(
            status,
            &answer,
            retry_after,
            &key,
            &self.url,
            || {
                "check transcription.base_url (the API root as an OpenAI client takes it, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1) and transcription.model".into()
            },
        ))
    }
}

/// Where transcriptions are posted.
pub fn endpoint(base_url: &str) -> String {
    format!("{}/audio/transcriptions", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One HTTP exchange on a loopback port: returns what was received.
    fn serve_once(
        status: &str,
        headers: &str,
        body: &str,
    ) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let answer = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.ends_with(b"--\r\n") {
                    break;
                }
            }
            stream.write_all(answer.as_bytes()).unwrap();
            got
        });
        (url, handle)
    }

    fn section(url: &str, key_env: Option<&str>) -> TranscriptionSection {
        TranscriptionSection {
            enabled: true,
            base_url: url.into(),
            model: "whisper-1".into(),
            api_key_env: key_env.map(str::to_string),
            language: Some("en".into()),
            timeout_seconds: 5,
            ..Default::default()
        }
    }

    #[test]
    fn sends_the_file_and_fields_and_reads_the_text() {
        let (url, server) = serve_once("200 OK", "", r#"{"text":" Tea at five. "}"#);
        let key = Secret::new("sk-test".into());
        let t = Transcriber::new(&section(&url, Some("OPENAI_API_KEY")), Some(&key));
        let text = t.transcribe("a.ogg", "audio/ogg", b"OggS...").unwrap();
        assert_eq!(text, "Tea at five.");
        let got = String::from_utf8_lossy(&server.join().unwrap()).into_owned();
        assert!(
            got.starts_with("POST /v1/audio/transcriptions HTTP/1.1"),
            "{got}"
        );
        assert!(
            got.contains("authorization: Bearer sk-test")
                || got.contains("Authorization: Bearer sk-test"),
            "{got}"
        );
        for field in [
            "name=\"model\"\r\n\r\nwhisper-1",
            "name=\"language\"\r\n\r\nen",
            "name=\"response_format\"\r\n\r\njson",
            "filename=\"a.ogg\"\r\nContent-Type: audio/ogg\r\n\r\nOggS...",
        ] {
            assert!(got.contains(field), "{field}: {got}");
        }
    }

    #[test]
    fn errors_are_classified_like_llm_calls() {
        let (url, server) = serve_once(
            "401 Unauthorized",
            "",
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        );
        let t = Transcriber::new(&section(&url, None), None);
        let err = t.transcribe("a.ogg", "audio/ogg", b"OggS").unwrap_err();
        server.join().unwrap();
        match err {
            LlmError::Unauthorized { message } => {
                assert!(message.contains("transcription.api_key_env"), "{message}");
                assert!(message.contains("Incorrect API key provided"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let (url, server) = serve_once(
            "429 Too Many Requests",
            "Retry-After: 7\r\n",
            r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#,
        );
        let t = Transcriber::new(&section(&url, None), None);
        let err = t.transcribe("a.ogg", "audio/ogg", b"OggS").unwrap_err();
        server.join().unwrap();
        assert_eq!(
            err,
            LlmError::Retryable {
                message: "HTTP 429: Rate limit reached".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let (url, server) = serve_once("404 Not Found", "", "");
        let t = Transcriber::new(&section(&url, None), None);
        let err = t.transcribe("a.ogg", "audio/ogg", b"OggS").unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(&err, LlmError::Misconfigured { message } if message.contains("transcription.base_url")),
            "{err:?}"
        );
    }
}
