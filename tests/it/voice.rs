//! Voice notes and images of monitored chats: transcription through a strict local
//! stand-in of OpenAI's transcription endpoint, the turn the LLM gets, search over
//! transcripts, retries, downloads still under way, image inputs in both API formats,
//! and the backfill of an imported archive. The files come from a zip export, which
//! puts them into the media store exactly as a download does.

use crate::common;

use std::io::Write;

use common::bot::{ALICE, Bot};
use common::llm::{LOCAL_MODEL, Server};
use common::transcribe::{self, Mode, SPOKEN, StandIn};
use common::{Sandbox, fixtures};
use serde_json::{Value, json};

const VOICE: &str = "00000013-AUDIO-2024-01-15-14-30-05.opus";
const PHOTO: &str = "00000014-PHOTO-2024-01-15-14-31-00.png";
/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\r\n-\xb4\x00\x00\x00\x00IEND\xaeB`\x82";

/// A zip export of Alice's chat holding `files` and naming each in a line of its own.
fn export(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut chat = String::from("[1/15/24, 14:29:00] Alice: hello\n");
    for (i, (name, _)) in files.iter().enumerate() {
        chat.push_str(&format!(
            "\u{200e}[1/15/24, 14:3{i}:30] Alice: \u{200e}<attached: {name}>\n"
        ));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("_chat.txt", stored).unwrap();
    zip.write_all(chat.as_bytes()).unwrap();
    for (name, bytes) in files {
        zip.start_file(*name, stored).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn voice_note() -> Vec<u8> {
    std::fs::read(fixtures().join("voice-note.ogg")).unwrap()
}

/// Imports the export into Alice's chat, as new (for the agent) or as history.
fn import(sandbox: &Sandbox, files: &[(&str, &[u8])], as_new: bool) -> Value {
    let path = sandbox.path("export.zip");
    std::fs::write(&path, export(files)).unwrap();
    let mut args = vec![
        "import",
        "--format",
        "whatsapp-export",
        path.to_str().unwrap(),
        "--chat",
        ALICE,
        "--json",
    ];
    if as_new {
        args.push("--as-new");
    }
    let report = sandbox.json(&args);
    assert_eq!(report["media"]["stored"], files.len(), "{report}");
    report
}

/// A bot whose transcription goes to `endpoint`, with its key in `.env`.
fn voice_bot(endpoint: &StandIn, edit: impl FnOnce(&mut Value)) -> Bot {
    let url = endpoint.url.clone();
    let bot = Bot::new(|config| {
        config["transcription"] = json!({
            "enabled": true, "base_url": url, "model": "whisper-1",
            "api_key_env": "TRANSCRIBE_KEY", "timeout_seconds": 2
        });
        edit(config);
    });
    let env = bot.sandbox.path(".env");
    let mut text = std::fs::read_to_string(&env).unwrap();
    text.push_str(&format!("TRANSCRIBE_KEY={}\n", transcribe::KEY));
    std::fs::write(&env, text).unwrap();
    bot
}

fn last_user_text(bot: &Bot, request: usize) -> String {
    bot.llm.conversation(request).last().unwrap().1.clone()
}

#[test]
fn a_voice_note_is_transcribed_answered_and_found_by_search() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 2, "{summary}");

    let sent = endpoint.requests();
    assert_eq!(sent.len(), 1, "one transcription");
    assert_eq!(
        sent[0].file,
        voice_note(),
        "the Ogg file as it was received"
    );
    assert!(sent[0].file_name.ends_with(".ogg"), "{}", sent[0].file_name);
    assert!(
        sent[0]
            .fields
            .contains(&("model".into(), "whisper-1".into()))
    );
    assert!(
        sent[0]
            .fields
            .contains(&("response_format".into(), "json".into()))
    );
    assert_eq!(
        last_user_text(&bot, 0),
        format!("hello\n[voice note] {SPOKEN}"),
        "the transcript reaches the LLM"
    );

    let hits = bot.sandbox.json(&["search", "tea ready", "--json"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["transcript"], SPOKEN);
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("[tea]"),
        "{}",
        hits[0]
    );
    let table = bot.sandbox.run(&["search", "clock"]).stdout();
    assert!(table.contains("[clock]"), "{table}");

    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(
        stats["transcripts"],
        json!({"transcribed": 1, "failed": 0, "waiting": 0})
    );
    bot.receive(&[(ALICE, "And then?")]);
    bot.process_ok();
    assert_eq!(endpoint.calls(), 1, "a voice note is transcribed once");
    let memory = bot.llm.conversation(1);
    assert!(
        memory[1].1.contains(SPOKEN),
        "the memory keeps what was said: {memory:?}"
    );
}

#[test]
fn a_failing_endpoint_is_retried_across_runs_then_the_turn_says_so_once() {
    let endpoint = StandIn::start(Mode::Fails);
    let bot = voice_bot(&endpoint, |c| c["polling"]["max_attempts"] = json!(3));
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    for attempt in 1..=2 {
        let summary = bot.process_ok();
        assert_eq!(summary["deferred"], 2, "attempt {attempt}: {summary}");
        assert_eq!(endpoint.calls(), attempt);
        assert!(
            bot.llm.requests().is_empty(),
            "no answer while a retry is due"
        );
        let error: String = bot.sandbox.sql("SELECT max(last_error) FROM messages");
        assert!(error.contains("transcription: HTTP 500"), "{error}");
        assert_eq!(
            bot.process_ok()["claimed"],
            0,
            "the retry waits for its time"
        );
        bot.sandbox
            .exec("UPDATE messages SET next_attempt_at = 0 WHERE status = 'pending'");
    }
    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 2, "{summary}");
    assert_eq!(endpoint.calls(), 3, "polling.max_attempts in all");
    assert_eq!(
        last_user_text(&bot, 0),
        "hello\n[voice note: could not be transcribed]"
    );
    assert_eq!(bot.outbox().len(), 1, "answered once");
    bot.sandbox.exec("UPDATE messages SET next_attempt_at = 0");
    assert_eq!(bot.process_ok()["claimed"], 0);
    assert_eq!(endpoint.calls(), 3);
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["transcripts"]["failed"], 1);
}

#[test]
fn a_rate_limited_endpoint_delays_the_turn_by_its_retry_after() {
    let endpoint = StandIn::start(Mode::RateLimited(120));
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    assert_eq!(bot.process_ok()["deferred"], 2);
    let wait: i64 = bot.sandbox.sql(
        "SELECT min(next_attempt_at) - strftime('%s','now') * 1000 FROM messages WHERE status = 'pending'",
    );
    assert!(
        (110_000..=121_000).contains(&wait),
        "Retry-After honoured: {wait}"
    );
    let attempts: i64 = bot.sandbox.sql("SELECT max(attempts) FROM messages");
    assert_eq!(
        attempts, 0,
        "waiting for a transcription spends no LLM attempt"
    );
}

#[test]
fn a_refused_transcription_key_stops_the_run_and_keeps_the_queue() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    let env = bot.sandbox.path(".env");
    let text = std::fs::read_to_string(&env)
        .unwrap()
        .replace(transcribe::KEY, "sk-wrong");
    std::fs::write(&env, text).unwrap();
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    let (run, _) = bot.process();
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(run.stderr().contains("TRANSCRIBE_KEY"), "{}", run.stderr());
    assert!(!run.stderr().contains("sk-wrong"), "the key is never shown");
    let doctor = bot.sandbox.json_any(&["doctor", "--json"]);
    let found = doctor.to_string();
    assert!(found.contains("TRANSCRIBE_KEY set"), "{found}");
    assert!(!found.contains("sk-wrong"), "{found}");
    let pending: i64 = bot
        .sandbox
        .sql("SELECT count(*) FROM messages WHERE status = 'pending'");
    assert_eq!(pending, 2);
}

#[test]
fn a_voice_note_still_downloading_holds_its_turn_back_for_a_while() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    // The listener has the file queued, as it has right after the message arrived.
    bot.sandbox
        .exec("UPDATE media_files SET download_state = 'pending', local_path = NULL");
    let summary = bot.process_ok();
    assert_eq!(summary["deferred"], 2, "{summary}");
    assert_eq!((endpoint.calls(), bot.llm.requests().len()), (0, 0));
    let error: String = bot.sandbox.sql("SELECT max(last_error) FROM messages");
    assert!(error.contains("downloaded"), "{error}");

    let path: String = bot
        .sandbox
        .sql("SELECT 'media/' || sha256 || '.ogg' FROM media_files");
    bot.sandbox.exec(&format!(
        "UPDATE media_files SET download_state = 'done', local_path = '{path}';
         UPDATE messages SET next_attempt_at = 0"
    ));
    assert_eq!(bot.process_ok()["answered"], 2);
    assert!(last_user_text(&bot, 0).ends_with(SPOKEN));

    // A download that never comes is given up after the patience: answered all the same.
    bot.listener_sends();
    import(
        &bot.sandbox,
        &[("00000020-AUDIO-2024-01-15-14-40-00.opus", b"OggS late")],
        true,
    );
    bot.sandbox.exec(
        "UPDATE media_files SET download_state = 'pending', local_path = NULL,
             created_at = created_at - 11 * 60000",
    );
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(endpoint.calls(), 1, "nothing to send without the file");
    assert_eq!(
        last_user_text(&bot, 1),
        "[voice note: could not be transcribed]"
    );
}

#[test]
fn an_image_goes_to_the_model_in_both_formats_and_as_its_caption_without_vision() {
    for (api, vision) in [
        ("agent", true),
        ("chat-completions", true),
        ("agent", false),
    ] {
        let endpoint = StandIn::start(Mode::Works);
        let bot = voice_bot(&endpoint, |config| {
            config["vision"] = json!({"enabled": vision});
            if api == "chat-completions" {
                let url = config["perplexity"]["base_url"].clone();
                config.as_object_mut().unwrap().remove("perplexity");
                config["llm"] = json!({"api": api, "base_url": url, "model": "gpt-4o-mini",
                    "timeout_seconds": 2});
            }
        });
        import(&bot.sandbox, &[(PHOTO, PNG)], true);
        assert_eq!(bot.process_ok()["answered"], 2, "{api} vision={vision}");
        let text = last_user_text(&bot, 0);
        assert!(text.starts_with("hello\n[image]"), "{text}");
        let images = bot.llm.images(0);
        if vision {
            assert_eq!(images, [("image/png".to_string(), PNG.to_vec())], "{api}");
            let body = bot.llm.requests()[0].to_string();
            let part = if api == "agent" {
                "\"input_image\""
            } else {
                "\"image_url\""
            };
            assert!(body.contains(part), "{api}: {body:.300}");
        } else {
            assert!(images.is_empty(), "vision off: the caption only");
            let content = &bot.llm.requests()[0]["input"][0]["content"];
            assert!(content.is_string(), "{content}");
        }
        assert_eq!(endpoint.calls(), 0);
    }
}

#[test]
fn view_once_media_is_never_transcribed_or_shown_to_the_model() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |config| {
        config["vision"] = json!({"enabled": true})
    });
    import(&bot.sandbox, &[(PHOTO, PNG)], true);
    bot.sandbox.exec("UPDATE media_files SET view_once = 1");
    assert_eq!(bot.process_ok()["answered"], 2);
    assert!(bot.llm.images(0).is_empty());

    let sticker = voice_bot(&StandIn::start(Mode::Works), |c| {
        c["vision"] = json!({"enabled": true})
    });
    import(&sticker.sandbox, &[(PHOTO, PNG)], true);
    sticker
        .sandbox
        .exec("UPDATE media_files SET media_type = 'sticker'");
    assert_eq!(sticker.process_ok()["answered"], 2);
    assert!(sticker.llm.images(0).is_empty(), "stickers are not sent");

    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], true);
    bot.sandbox.exec("UPDATE media_files SET view_once = 1");
    assert_eq!(bot.process_ok()["answered"], 2);
    assert_eq!(
        endpoint.calls(),
        0,
        "a view-once voice note is not transcribed"
    );
    assert!(last_user_text(&bot, 0).starts_with("hello\n[audio]"));
    assert_eq!(
        bot.sandbox.json(&["media", "transcribe", "--json"])["candidates"],
        0
    );
}

#[test]
fn media_transcribe_backfills_an_imported_archive_idempotently() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    let second = b"OggS a second voice note".to_vec();
    import(
        &bot.sandbox,
        &[
            (VOICE, &voice_note()),
            ("00000015-AUDIO-2024-01-15-14-32-00.opus", &second),
        ],
        false,
    );
    let before = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(before["transcripts"]["waiting"], 2);
    let first = bot.sandbox.json(&[
        "media",
        "transcribe",
        "--chat",
        "Alice",
        "--limit",
        "1",
        "--json",
    ]);
    assert_eq!(
        (first["candidates"].as_i64(), first["transcribed"].as_i64()),
        (Some(1), Some(1)),
        "{first}"
    );
    let rest = bot
        .sandbox
        .json(&["media", "transcribe", "--since", "2024-01-01", "--json"]);
    assert_eq!(rest["transcribed"], 1, "{rest}");
    let again = bot.sandbox.json(&["media", "transcribe", "--json"]);
    assert_eq!(again["candidates"], 0, "idempotent: {again}");
    assert_eq!(endpoint.calls(), 2);
    let hits = bot.sandbox.json(&["search", "five", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 2);
    assert_eq!(bot.llm.requests().len(), 0, "history is never answered");
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["jobs"]["media-transcribe"]["outcome"], "ok");

    let off = Sandbox::new();
    let run = off.run(&["media", "transcribe"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr().contains("transcription.enabled"),
        "{}",
        run.stderr()
    );
}

#[test]
fn media_transcribe_stops_when_the_endpoint_is_down_and_resumes_later() {
    let endpoint = StandIn::start(Mode::Fails);
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], false);
    let run = bot.sandbox.run(&["media", "transcribe", "--json"]);
    assert_eq!(run.code(), 75, "{}", run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["not_tried"], 1, "{report}");
    endpoint.set_mode(Mode::Works);
    let done = bot.sandbox.json(&["media", "transcribe", "--json"]);
    assert_eq!(done["transcribed"], 1, "{done}");
}

#[test]
fn config_check_says_what_leaves_the_machine() {
    let sandbox = Sandbox::stocked();
    let mut config = common::fixture_config();
    config["media"] = json!({"download": true});
    config["transcription"] = json!({"enabled": true, "base_url": "http://127.0.0.1:8000/v1"});
    sandbox.write_config(&config);
    let local = sandbox.json(&["config", "check", "--json"]);
    let warnings = local["warnings"].to_string();
    assert!(!warnings.contains("transcription"), "{warnings}");
    config["transcription"]["base_url"] = json!("https://api.openai.com/v1");
    config["vision"] = json!({"enabled": true});
    sandbox.write_config(&config);
    let remote = sandbox.json(&["config", "check", "--json"]);
    let warnings = remote["warnings"].to_string();
    assert!(
        warnings.contains("voice notes to api.openai.com"),
        "{warnings}"
    );
    assert!(
        warnings.contains("images of monitored chats to api.perplexity.ai"),
        "{warnings}"
    );
    config["transcription"]["api_key_env"] = json!("WABOT_TEST_UNSET_KEY");
    sandbox.write_config(&config);
    let doctor = sandbox.json_any(&["doctor", "--json"]).to_string();
    assert!(doctor.contains("WABOT_TEST_UNSET_KEY missing"), "{doctor}");
    config["transcription"]["language"] = json!("English");
    sandbox.write_config(&config);
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains("transcription.language"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_llm_stand_in_refuses_bad_image_parts_and_keeps_its_alternation_rule() {
    let llm = common::llm::StandIn::start(std::time::Duration::ZERO);
    let post = |path: &str, body: Value| -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(format!("{}{path}", llm.url))
            .header("Authorization", format!("Bearer {}", common::llm::KEY))
            .send_json(body)
            .unwrap()
            .status()
            .as_u16()
    };
    let agent_image = |uri: &str| {
        json!({"model": "m", "input": [{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": uri}]}]})
    };
    let chat_image = |uri: &str| {
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": uri}}]}]})
    };
    let good = "data:image/png;base64,iVBORw0KGgo=";
    assert_eq!(post("/v1/agent", agent_image(good)), 200);
    assert_eq!(post("/chat/completions", chat_image(good)), 200);
    for bad in [
        "data:image/bmp;base64,iVBORw0KGgo=",
        "data:image/png;base64,***",
        "file:///etc/passwd",
    ] {
        assert_eq!(post("/v1/agent", agent_image(bad)), 400, "{bad}");
        assert_eq!(post("/chat/completions", chat_image(bad)), 400, "{bad}");
    }
    let mut twice = agent_image(good);
    let item = twice["input"][0].clone();
    twice["input"] = json!([item.clone(), item]);
    assert_eq!(post("/v1/agent", twice), 400, "two user items in a row");
    let mut wrong_shape = chat_image(good);
    wrong_shape["messages"][0]["content"][1] = json!({"type": "image_url", "image_url": good});
    assert_eq!(
        post("/chat/completions", wrong_shape),
        400,
        "chat's image_url is an object"
    );
}

/// Transcripts are paid for: the archive `cleanup` writes keeps them, and importing it
/// again makes them searchable again.
#[test]
fn transcripts_survive_the_cleanup_archive_and_its_reimport() {
    let endpoint = StandIn::start(Mode::Works);
    let bot = voice_bot(&endpoint, |_| {});
    import(&bot.sandbox, &[(VOICE, &voice_note())], false);
    let done = bot.sandbox.json(&["media", "transcribe", "--json"]);
    assert_eq!(done["transcribed"], 1, "{done}");
    let report = bot.sandbox.json(&[
        "cleanup",
        "--retention-days",
        "0",
        "--include-history",
        "--archive",
        "archive.jsonl",
        "--json",
    ]);
    assert_eq!(report["archived"], 2, "{report}");
    let gone = bot.sandbox.run(&["search", "five", "--json"]);
    assert_eq!(gone.code(), 1, "nothing found: {}", gone.stderr());
    assert_eq!(gone.stdout().trim(), "[]");
    let archive = std::fs::read_to_string(bot.sandbox.path("archive.jsonl")).unwrap();
    let voice: Value = archive
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|m| m.get("transcript").is_some())
        .expect("the voice note's line carries its transcript");
    assert_eq!(voice["transcript"], SPOKEN);
    let reimport = bot
        .sandbox
        .json(&["import", "--format", "jsonl", "archive.jsonl", "--json"]);
    assert_eq!(reimport["imported"], 2, "{reimport}");
    let hits = bot.sandbox.json(&["search", "five", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["transcript"], SPOKEN);
    assert_eq!(endpoint.calls(), 1, "nothing transcribed twice");
}

#[test]
fn a_text_only_model_answers_an_image_from_its_caption_and_is_sent_none_again() {
    for server in [Server::LlamaCpp, Server::Ollama, Server::Vllm] {
        let section = json!({"api": "chat-completions", "model": LOCAL_MODEL,
                             "api_key_env": null});
        let bot = Bot::against(server, section, |c| c["vision"] = json!({"enabled": true}));
        import(&bot.sandbox, &[(PHOTO, PNG)], true);
        let summary = bot.process_ok();
        assert_eq!(summary["answered"], 2, "{server:?}: {summary}");
        assert_eq!(
            summary["llm_calls"], 2,
            "{server:?}: the refused request, then at once the one without the image"
        );
        assert!(bot.llm.images(0).is_empty(), "{server:?}");
        assert!(last_user_text(&bot, 0).contains("[image]"), "{server:?}");
        let outcomes: String = bot.sandbox.sql(
            "SELECT group_concat(outcome, ' ') FROM (SELECT outcome FROM llm_calls ORDER BY id)",
        );
        assert_eq!(outcomes, "takes-no-images ok", "{server:?}");

        // The model is remembered: the next turn with an image costs one call.
        bot.sandbox
            .exec("UPDATE messages SET status = 'pending' WHERE status = 'answered'");
        assert_eq!(bot.process_ok()["llm_calls"], 1, "{server:?}");
        assert!(bot.llm.images(1).is_empty(), "{server:?}");
    }
}

#[test]
fn an_html_export_reads_like_the_chat_with_media_inline_and_nothing_unescaped() {
    let sandbox = Sandbox::new();
    import(&sandbox, &[(PHOTO, PNG)], false);
    sandbox.exec(&format!(
        "UPDATE messages SET content = '<b>not bold</b> & שלום 🎉' WHERE content = 'hello' AND chat_jid = '{ALICE}'"
    ));
    let page = sandbox.path("chat.html");
    let run = sandbox.run(&[
        "export",
        ALICE,
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let html = std::fs::read_to_string(&page).unwrap();
    use base64::Engine;
    let inline = base64::engine::general_purpose::STANDARD.encode(PNG);
    assert!(
        html.contains(&format!("src=\"data:image/png;base64,{inline}\"")),
        "the photo inline"
    );
    assert!(
        html.contains("&lt;b&gt;not bold&lt;/b&gt; &amp; שלום 🎉"),
        "escaped"
    );
    assert!(!html.contains("<b>not bold"), "never markup");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );

    // A real browser: Debian's Chromium, headless. CI installs it.
    let Ok(chromium) = which("chromium") else {
        eprintln!("skipped the browser half: chromium is not installed (apt-get install chromium)");
        return;
    };
    let url = format!("file://{}#search=bold", page.display());
    let dom = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &url,
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("not bold"), "rendered: {dom:.500}");
    assert_eq!(
        dom.matches("class=\"row hidden\"").count(),
        1,
        "the search from the address hid the photo's row: {dom:.2000}"
    );
    let fonts = std::process::Command::new("fc-list").output();
    if !fonts.is_ok_and(|f| {
        String::from_utf8_lossy(&f.stdout)
            .to_lowercase()
            .contains("emoji")
    }) {
        eprintln!(
            "no emoji font: the screenshot shows emoji as boxes (apt-get install fonts-noto-color-emoji)"
        );
    }
    let shot = sandbox.path("chat.png");
    let taken = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=800,600",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "a real screenshot"
    );
    if let Ok(keep) = std::env::var("WABOT_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

/// A program on PATH.
fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
