//! The official transports end to end: `wabot listen` on `twilio` and `cloud-api` on a
//! free loopback port, webhooks signed (here, independently of wabot's own code) and
//! not, `process-once` answering through strict stand-ins of the providers' REST APIs.

use crate::common;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};

use common::bot::{ALICE, Bot};
use common::changes;
use common::providers::{self, CLOUD_TOKEN, File, PHONE_NUMBER_ID, Provider, SID, TWILIO_TOKEN};
use common::transcribe::{self, Mode, SPOKEN};

const PUBLIC: &str = "https://bot.example.com/hooks/whatsapp";
const APP_SECRET: &str = "meta-app-secret-42";
const VERIFY: &str = "verify-me-7";
const UMA: &str = "US.13491208655302741918";

struct Listener {
    child: std::process::Child,
    url: String,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bot on `transport` whose provider is `provider`; secrets in `.env`. The tests run
/// `process-once` themselves (answering on arrival has a test of its own).
fn bot(transport: &str, provider: &Provider, edit: impl FnOnce(&mut Value)) -> (Bot, u16) {
    let port = free_port();
    let bot = Bot::new(|c| {
        c["transport"] = json!(transport);
        c["webhook"] = json!({"listen": format!("127.0.0.1:{port}"), "public_url": PUBLIC, "max_body_bytes": 4096});
        c["twilio"] =
            json!({"account_sid": SID, "from": providers::FROM, "base_url": provider.url});
        c["cloud_api"] = json!({"phone_number_id": PHONE_NUMBER_ID, "base_url": provider.url, "mark_read": "typing"});
        c["monitored_entities"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "jid": format!("{UMA}@bsuid"), "name": "Uma"}));
        c["polling"]["on_arrival"] = json!(false);
        edit(c);
    });
    let env = bot.sandbox.path(".env");
    let mut text = std::fs::read_to_string(&env).unwrap();
    text.push_str(&format!(
        "TWILIO_AUTH_TOKEN={TWILIO_TOKEN}\nWHATSAPP_CLOUD_TOKEN={CLOUD_TOKEN}\nWHATSAPP_APP_SECRET={APP_SECRET}\nWHATSAPP_VERIFY_TOKEN={VERIFY}\n"
    ));
    std::fs::write(&env, text).unwrap();
    (bot, port)
}

fn listen(bot: &Bot, port: u16) -> Listener {
    let child = bot.sandbox.spawn(&["listen"]);
    let url = format!("http://127.0.0.1:{port}");
    // It binds before its first heartbeat, so a write always follows the bind.
    changes::until(
        &format!("the listener on {url}"),
        &[&bot.sandbox.changes()],
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    Listener { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Twilio's algorithm, written out here so the test does not trust wabot's.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hub_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a Twilio webhook to `path_and_query` (the public URL's path), signed as Twilio
/// signs it unless `signature` says otherwise.
fn post_twilio(
    l: &Listener,
    path_and_query: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> u16 {
    let signed = twilio_signature(&format!("https://bot.example.com{path_and_query}"), params);
    let mut request = agent().post(format!("{}{path_and_query}", l.url));
    if let Some(sig) = signature.or(Some(&signed)).filter(|s| !s.is_empty()) {
        request = request.header("X-Twilio-Signature", sig);
    }
    request
        .send_form(params.iter().copied())
        .unwrap()
        .status()
        .as_u16()
}

fn post_cloud(l: &Listener, body: &Value, signature: Option<&str>) -> u16 {
    let raw = body.to_string();
    let signed = hub_signature(raw.as_bytes());
    let mut request = agent()
        .post(format!("{}/hooks/whatsapp", l.url))
        .header("Content-Type", "application/json");
    if let Some(sig) = signature.or(Some(&signed)).filter(|s| !s.is_empty()) {
        request = request.header("X-Hub-Signature-256", sig);
    }
    request.send(raw.as_bytes()).unwrap().status().as_u16()
}

/// Waits until `done`, looking again whenever the database or the provider changed.
fn wait_until(bot: &Bot, provider: &Provider, what: &str, done: impl FnMut() -> bool) {
    changes::until(what, &[&bot.sandbox.changes(), &*provider.bell], done);
}

/// Proves the sender thread made a pass after the row in question was settled: a marker
/// queued now reaches the provider, so a row that was going to be sent again would have
/// gone first (the drain takes due rows oldest first). An event to wait on, not a sleep.
fn after_a_drain_pass(bot: &Bot, provider: &Provider, to: &str) {
    let before = provider.seen.lock().unwrap().attempts;
    let queued = bot.sandbox.run(&["send", "--to", to, "marker"]);
    assert_eq!(queued.code(), 0, "{}", queued.stderr());
    wait_until(bot, provider, "the marker's send", || {
        provider.seen.lock().unwrap().attempts > before
    });
}

fn inbound_twilio<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", SID),
        ("From", "whatsapp:+15550001111"),
        ("To", providers::FROM),
        ("Body", body),
        ("NumMedia", "0"),
        ("ProfileName", "Alice"),
        ("WaId", "15550001111"),
    ]
}

#[test]
fn a_webhook_message_is_answered_on_arrival_without_any_cron_run() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |c| {
        c["polling"]["on_arrival"] = json!(true);
    });
    let l = listen(&bot, port);
    let hello = inbound_twilio("SM00000000000000000000000000000009", "Are you there?");
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
    // Nothing here runs process-once: only the listener's own run can answer.
    wait_until(&bot, &provider, "the reply sent through Twilio", || {
        provider
            .sends()
            .iter()
            .any(|s| s["To"] == "whatsapp:+15550001111")
    });
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'answered'"),
        1
    );
    assert_eq!(bot.llm.requests().len(), 1, "answered once");
}

/// A database that takes no writes for a while (a restore, a migration, another long
/// writer) must not cost a message Twilio will not deliver again: it is kept on disk,
/// acknowledged, and stored once the database takes writes.
#[test]
fn a_webhook_the_database_cannot_take_in_time_is_kept_on_disk_and_stored_later() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let l = listen(&bot, port);
    let holder = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let hello = inbound_twilio("SM00000000000000000000000000000042", "Are you there?");
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
    let spool = bot.sandbox.path("store/webhook-spool");
    let kept: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    assert_eq!(kept.len(), 1, "kept on disk while the database is busy");
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 0);
    holder.execute_batch("ROLLBACK").unwrap();
    wait_until(&bot, &provider, "the kept request stored", || {
        bot.count("SELECT count(*) FROM messages WHERE id = 'SM00000000000000000000000000000042' AND status = 'pending'") == 1
    });
    wait_until(&bot, &provider, "the spool emptied", || {
        std::fs::read_dir(&spool).unwrap().count() == 0
    });
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 1, "stored once");
}

#[test]
fn twilio_signed_messages_are_stored_once_answered_and_tracked_by_status_callbacks() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let l = listen(&bot, port);
    let hello = inbound_twilio("SM00000000000000000000000000000001", "What is Spark?");
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &hello, None),
        200,
        "a redelivery is acknowledged"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE id = 'SM00000000000000000000000000000001'
                   AND chat_jid = '15550001111@s.whatsapp.net' AND status = 'pending' AND push_name = 'Alice'"),
        1,
        "stored once, as a pending turn of Alice's chat"
    );
    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 1, "{summary}");
    wait_until(&bot, &provider, "the reply sent through Twilio", || {
        !provider.sends().is_empty()
    });
    let sent = provider.sends()[0].clone();
    assert_eq!(sent["From"], providers::FROM);
    assert_eq!(sent["To"], "whatsapp:+15550001111");
    assert!(sent["Body"].as_str().unwrap().len() > 10, "{sent}");
    wait_until(&bot, &provider, "the row marked accepted", || {
        bot.count(
            "SELECT count(*) FROM outbox WHERE status = 'accepted' AND provider_id LIKE 'SM%'",
        ) == 1
    });
    // Twilio reports the status on the callback URL wabot gave, signed over it.
    let callback = sent["StatusCallback"].as_str().unwrap();
    let path = callback.trim_start_matches("https://bot.example.com");
    let sid = sent["sid"].as_str().unwrap();
    for status in ["sent", "delivered", "read"] {
        let params = [
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("AccountSid", SID),
        ];
        assert_eq!(post_twilio(&l, path, &params, None), 200);
    }
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM outbox
             WHERE status = 'delivered' AND delivered_at IS NOT NULL AND read_at IS NOT NULL"
        ),
        1
    );
    assert_eq!(provider.seen.lock().unwrap().refused, Vec::<String>::new());
    let doctor = bot.sandbox.run(&["doctor"]);
    assert_eq!(doctor.code(), 0, "{}{}", doctor.stdout(), doctor.stderr());
    assert!(
        !doctor.stdout().contains("device linked"),
        "{}",
        doctor.stdout()
    );
}

#[test]
fn twilio_refuses_unsigned_forged_oversized_and_malformed_requests_and_quarantines_the_unreadable()
{
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let l = listen(&bot, port);
    let hello = inbound_twilio("SM00000000000000000000000000000002", "hi");
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &hello, Some("")),
        403,
        "unsigned"
    );
    assert_eq!(
        post_twilio(
            &l,
            "/hooks/whatsapp",
            &hello,
            Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        ),
        403,
        "another request's signature"
    );
    let host_url = twilio_signature(&format!("{}/hooks/whatsapp", l.url), &hello);
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &hello, Some(&host_url)),
        403,
        "signed over the Host header's URL instead of webhook.public_url"
    );
    let mut tampered = hello.clone();
    let signed = twilio_signature(PUBLIC, &hello);
    tampered[5] = ("Body", "send me your key");
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &tampered, Some(&signed)),
        403,
        "a changed body"
    );
    let big = "x".repeat(5000);
    let oversized = inbound_twilio("SM00000000000000000000000000000003", &big);
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &oversized, None), 413);
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &[("Body", "no sid")], None),
        400,
        "signed but malformed"
    );
    let unreadable = [
        ("MessageSid", "SM9"),
        ("From", "whatsapp:+1555"),
        ("Body", "x"),
    ];
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &unreadable, None),
        200,
        "signed, so acknowledged: Twilio would not deliver it again"
    );
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM quarantine WHERE message_id = 'SM9' AND reason LIKE 'From:%'"
        ),
        1,
        "kept in the quarantine, not dropped"
    );
    assert_eq!(post_twilio(&l, "/elsewhere", &hello, None), 404);
    let raw = agent()
        .post(format!("{}/hooks/whatsapp", l.url))
        .header("X-Twilio-Signature", "x")
        .send(&b"\xff\xfe%%%&&=="[..])
        .unwrap();
    assert_eq!(raw.status().as_u16(), 403);
    assert_eq!(
        bot.count("SELECT count(*) FROM messages"),
        0,
        "nothing refused is stored"
    );
    assert_eq!(
        post_twilio(&l, "/hooks/whatsapp", &hello, None),
        200,
        "the listener lives on"
    );
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 1);
    // SIGTERM stops it cleanly, its heartbeat saying so.
    let mut l = l;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &l.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = l.child.wait().unwrap();
    assert_eq!(out.code(), Some(0));
    let state: String = bot.sandbox.sql("SELECT state FROM listener_heartbeat");
    assert_eq!(state, "stopped");
}

#[test]
fn twilio_media_is_fetched_with_the_account_credentials_into_the_media_store() {
    let image = b"\xff\xd8\xff a small jpeg".to_vec();
    let media_path = format!("/2010-04-01/Accounts/{SID}/Messages/MM0001/Media/ME0001");
    let provider = Provider::start(
        &[],
        vec![File {
            key: media_path.clone(),
            mimetype: "image/jpeg".into(),
            bytes: image.clone(),
        }],
    );
    let (bot, port) = bot("twilio", &provider, |c| {
        c["media"] = json!({"download": true})
    });
    let l = listen(&bot, port);
    let media_url = format!("{}{media_path}", provider.url);
    let mut params = inbound_twilio("MM0001", "look at this");
    params.retain(|(k, _)| *k != "NumMedia");
    params.extend([
        ("NumMedia", "1"),
        ("MediaUrl0", media_url.as_str()),
        ("MediaContentType0", "image/jpeg"),
    ]);
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &params, None), 200);
    let content: String = bot
        .sandbox
        .sql("SELECT content || '|' || message_type FROM messages");
    assert_eq!(content, "[image] look at this|image");
    wait_until(&bot, &provider, "the image downloaded", || {
        bot.count("SELECT count(*) FROM media_files WHERE download_state = 'done'") == 1
    });
    let path: String = bot.sandbox.sql("SELECT local_path FROM media_files");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&image));
    assert_eq!(path, format!("media/{sha}.jpg"), "named by its own SHA-256");
    assert_eq!(
        std::fs::read(bot.sandbox.path(&format!("store/{path}"))).unwrap(),
        image
    );
    assert_eq!(provider.seen.lock().unwrap().downloads, 1);
    assert!(
        provider.seen.lock().unwrap().refused.is_empty(),
        "Basic auth accepted"
    );
}

#[test]
fn twilio_window_refusal_reported_by_callback_is_final_and_shown_in_stats() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let l = listen(&bot, port);
    let hello = inbound_twilio("SM00000000000000000000000000000004", "Still there?");
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
    bot.process_ok();
    wait_until(&bot, &provider, "the send", || !provider.sends().is_empty());
    let sent = provider.sends()[0].clone();
    let path = sent["StatusCallback"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://bot.example.com")
        .to_string();
    let sid = sent["sid"].as_str().unwrap().to_string();
    wait_until(&bot, &provider, "the row marked accepted", || {
        bot.count("SELECT count(*) FROM outbox WHERE status = 'accepted'") == 1
    });
    let failed = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "63016"),
        ("AccountSid", SID),
    ];
    assert_eq!(post_twilio(&l, &path, &failed, None), 200);
    assert_eq!(
        bot.count("SELECT count(*) FROM outbox WHERE status = 'failed' AND error_code = '63016' AND last_error LIKE '%24-hour window%'"),
        1
    );
    after_a_drain_pass(&bot, &provider, "+15550002222");
    assert_eq!(
        provider.seen.lock().unwrap().attempts,
        2,
        "never sent again: the marker is the only other send"
    );
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["outbox"]["outside_window"], 1, "{stats}");
}

fn cloud_payload(messages: Value, statuses: Value, contacts: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": contacts, "messages": messages, "statuses": statuses,
        }}]}],
    })
}

#[test]
fn cloud_api_verifies_stores_answers_phone_and_username_users_and_records_the_window() {
    let voice = b"OggS fake voice note bytes".to_vec();
    let provider = Provider::start(
        &["15550003333"],
        vec![File {
            key: "1037543291543636".into(),
            mimetype: "audio/ogg".into(),
            bytes: voice.clone(),
        }],
    );
    let (bot, port) = bot("cloud-api", &provider, |c| {
        c["media"] = json!({"download": true});
        c["monitored_entities"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "phone": "15550003333", "name": "Carol"}));
    });
    let l = listen(&bot, port);
    let get = |q: &str| {
        let r = agent()
            .get(format!("{}/hooks/whatsapp?{q}", l.url))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.into_body().read_to_string().unwrap())
    };
    assert_eq!(
        get(&format!(
            "hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
        )),
        (200, "1158201444".into())
    );
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1").0,
        403
    );
    let ts = (chrono_now() / 1000).to_string();
    let messages = json!([
        {"from": "15550001111", "id": "wamid.IN1", "timestamp": ts, "type": "text", "text": {"body": "Hi from Alice"}},
        {"from_user_id": UMA, "id": "wamid.IN2", "timestamp": ts, "type": "text", "text": {"body": "Hi from a username"}},
        {"from": "15550003333", "id": "wamid.IN3", "timestamp": ts, "type": "text", "text": {"body": "Hi after a long silence"}},
        {"from": "15550001111", "id": "wamid.IN4", "timestamp": ts, "type": "audio",
         "audio": {"id": "1037543291543636", "mime_type": "audio/ogg; codecs=opus", "voice": true}},
    ]);
    let contacts = json!([
        {"profile": {"name": "Alice"}, "wa_id": "15550001111"},
        {"profile": {"name": "Uma", "username": "@uma"}, "user_id": UMA},
    ]);
    let payload = cloud_payload(messages, json!([]), contacts);
    assert_eq!(post_cloud(&l, &payload, None), 200);
    assert_eq!(post_cloud(&l, &payload, None), 200, "Meta's redelivery");
    assert_eq!(
        bot.count("SELECT count(*) FROM messages"),
        4,
        "each wamid stored once"
    );
    assert_eq!(
        bot.count(&format!(
            "SELECT count(*) FROM messages WHERE chat_jid = '{UMA}@bsuid' AND status = 'pending'"
        )),
        1,
        "a user known only by a business-scoped id is a chat of its own"
    );
    wait_until(&bot, &provider, "the voice note downloaded", || {
        bot.count("SELECT count(*) FROM media_files WHERE download_state = 'done' AND local_path LIKE 'media/%.ogg'") == 1
    });
    let stored: String = bot.sandbox.sql("SELECT local_path FROM media_files");
    assert_eq!(
        std::fs::read(bot.sandbox.path(&format!("store/{stored}"))).unwrap(),
        voice
    );
    wait_until(&bot, &provider, "read marks with typing", || {
        provider.seen.lock().unwrap().reads.len() == 4
    });
    assert!(
        provider
            .seen
            .lock()
            .unwrap()
            .reads
            .iter()
            .all(|r| r["typing_indicator"]["type"] == "text")
    );

    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 4, "{summary}");
    wait_until(&bot, &provider, "three replies taken, one refused", || {
        bot.count("SELECT count(*) FROM outbox WHERE status IN ('accepted', 'failed')") == 3
    });
    let sends = provider.sends();
    assert!(
        sends
            .iter()
            .any(|s| s["to"] == "15550001111" && s.get("recipient").is_none())
    );
    assert!(
        sends
            .iter()
            .any(|s| s["recipient"] == UMA && s.get("to").is_none()),
        "{sends:?}"
    );
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM outbox WHERE chat_jid = '15550003333@s.whatsapp.net'
                   AND status = 'failed' AND error_code = '131047'"
        ),
        1
    );
    after_a_drain_pass(&bot, &provider, "15550001111");
    assert_eq!(
        provider.seen.lock().unwrap().attempts,
        4,
        "the refused reply is not retried: the marker is the only other send"
    );
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["outbox"]["outside_window"], 1, "{stats}");

    // Statuses: by wamid, and a failure reported later.
    let alice = sends.iter().find(|s| s["to"] == "15550001111").unwrap();
    let uma = sends.iter().find(|s| s["recipient"] == UMA).unwrap();
    let statuses = json!([
        {"id": alice["wamid"], "status": "delivered", "timestamp": ts, "recipient_id": "15550001111"},
        {"id": alice["wamid"], "status": "read", "timestamp": ts, "recipient_id": "15550001111"},
        {"id": uma["wamid"], "status": "failed", "timestamp": ts, "recipient_user_id": UMA,
         "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                     "error_data": {"details": "Message failed to send because more than 24 hours have passed."}}]},
    ]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(json!([]), statuses, json!([])), None),
        200
    );
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM outbox WHERE read_at IS NOT NULL AND delivered_at IS NOT NULL"
        ),
        1
    );
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["outbox"]["outside_window"], 2, "{stats}");
    assert_eq!(provider.seen.lock().unwrap().refused, ["graph window"]);
}

#[test]
fn a_send_whose_answer_was_lost_is_confirmed_by_its_status_and_not_sent_twice() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("cloud-api", &provider, |c| {
        c["monitored_entities"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "phone": providers::LOST_ANSWER, "name": "Dave"}));
    });
    let l = listen(&bot, port);
    let ts = (chrono_now() / 1000).to_string();
    let hello = json!([{"from": providers::LOST_ANSWER, "id": "wamid.D1", "timestamp": ts,
                        "type": "text", "text": {"body": "Are you there?"}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(hello, json!([]), json!([])), None),
        200
    );
    bot.process_ok();
    wait_until(&bot, &provider, "the send", || {
        provider.seen.lock().unwrap().attempts == 1
    });
    wait_until(&bot, &provider, "the row left written", || {
        bot.count("SELECT count(*) FROM outbox WHERE status = 'written' AND attempts = 1") == 1
    });
    let sent = provider.sends()[0].clone();
    let own_id: String = bot.sandbox.sql("SELECT message_id FROM outbox");
    assert_eq!(sent["biz_opaque_callback_data"], own_id.as_str());
    let status = json!([{"id": sent["wamid"], "status": "sent", "timestamp": ts,
                         "recipient_id": providers::LOST_ANSWER, "biz_opaque_callback_data": own_id}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(json!([]), status, json!([])), None),
        200
    );
    assert_eq!(
        bot.count(&format!(
            "SELECT count(*) FROM outbox WHERE status = 'accepted' AND provider_id = {}",
            sent["wamid"].to_string().replace('"', "'")
        )),
        1,
        "the status names the row by wabot's own id"
    );
    after_a_drain_pass(&bot, &provider, "15550001111");
    assert_eq!(
        provider.seen.lock().unwrap().attempts,
        2,
        "sent once: the marker is the only other send"
    );
}

#[test]
fn cloud_api_refuses_what_is_not_signed_by_the_app_secret() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("cloud-api", &provider, |_| {});
    let l = listen(&bot, port);
    let ts = (chrono_now() / 1000).to_string();
    let payload = cloud_payload(
        json!([{"from": "15550001111", "id": "wamid.X", "timestamp": ts, "type": "text", "text": {"body": "hi"}}]),
        json!([]),
        json!([]),
    );
    assert_eq!(post_cloud(&l, &payload, Some("")), 403, "unsigned");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"another app").unwrap();
    mac.update(payload.to_string().as_bytes());
    let forged = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        post_cloud(&l, &payload, Some(&forged)),
        403,
        "another secret"
    );
    let mut big = payload.clone();
    big["padding"] = json!("x".repeat(5000));
    assert_eq!(post_cloud(&l, &big, None), 413);
    for malformed in [
        json!("not an object"),
        json!({"object": "page", "entry": []}),
        json!({"object": "whatsapp_business_account"}),
    ] {
        assert_eq!(post_cloud(&l, &malformed, None), 400, "{malformed}");
    }
    let raw = b"{not json";
    let status = agent()
        .post(format!("{}/hooks/whatsapp", l.url))
        .header("X-Hub-Signature-256", &hub_signature(raw))
        .send(&raw[..])
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 400);
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 0);
    let ts = (chrono_now() / 1000).to_string();
    let unreadable = cloud_payload(
        json!([{"from": "12", "id": "wamid.ODD", "timestamp": ts, "type": "text", "text": {"body": "hi"}}]),
        json!([]),
        json!([]),
    );
    assert_eq!(
        post_cloud(&l, &unreadable, None),
        200,
        "signed: acknowledged"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM quarantine WHERE message_id = 'wamid.ODD' AND record LIKE '%\"hi\"%'"),
        1,
        "a signed message wabot cannot read is kept, not dropped"
    );
    assert_eq!(post_cloud(&l, &payload, None), 200, "the listener survived");
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 1);
}

#[test]
fn linked_device_commands_refuse_and_missing_secrets_are_named() {
    let provider = Provider::start(&[], vec![]);
    let (bot, _port) = bot("twilio", &provider, |_| {});
    for args in [&["pair"][..], &["sync", "--all-monitored"][..]] {
        let run = bot.sandbox.run(args);
        assert_eq!(run.code(), 78, "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains("linked device"), "{}", run.stderr());
    }
    std::fs::write(bot.sandbox.path(".env"), "PERPLEXITY_API_KEY=x\n").unwrap();
    let report = bot.sandbox.json(&["config", "check", "--json"]);
    assert!(
        report["secrets"]["TWILIO_AUTH_TOKEN"]
            .as_str()
            .unwrap()
            .starts_with("missing"),
        "{report}"
    );
    bot.receive(&[(ALICE, "a message, so that there is a database")]);
    let doctor = bot.sandbox.run(&["doctor"]);
    assert_eq!(doctor.code(), 69);
    assert!(
        doctor.stdout().contains("missing: TWILIO_AUTH_TOKEN"),
        "{}",
        doctor.stdout()
    );
    let run = bot.sandbox.run(&["listen"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains("TWILIO_AUTH_TOKEN is not set"),
        "{}",
        run.stderr()
    );
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(bot.sandbox.path("app.json")).unwrap())
            .unwrap();
    config["twilio"]["from"] = json!("+14155238886");
    config["webhook"]["public_url"] = Value::Null;
    bot.sandbox.write_config(&config);
    let run = bot.sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    for field in ["twilio.from", "webhook.public_url"] {
        assert!(run.stderr().contains(field), "{field}: {}", run.stderr());
    }
    config["transport"] = json!("cloud-api");
    config["webhook"]["public_url"] = json!(PUBLIC);
    config["whatsapp"]["phone_number"] = Value::Null;
    bot.sandbox.write_config(&config);
    let run = bot.sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr()
            .contains("whatsapp.phone_number: is required with transport \"cloud-api\""),
        "the sender of the stored replies: {}",
        run.stderr()
    );
}

/// The transports and voice notes meet in the media store: a Cloud API voice note is
/// downloaded by the listener, transcribed by `process-once`, and its turn says what was said.
#[test]
fn a_cloud_api_voice_note_is_downloaded_transcribed_and_answered_by_what_it_says() {
    let voice = std::fs::read(common::fixtures().join("voice-note.ogg")).unwrap();
    let provider = Provider::start(
        &[],
        vec![File {
            key: "2043910374".into(),
            mimetype: "audio/ogg".into(),
            bytes: voice.clone(),
        }],
    );
    let endpoint = transcribe::StandIn::start(Mode::Works);
    let (bot, port) = bot("cloud-api", &provider, |c| {
        c["media"] = json!({"download": true});
        c["transcription"] = json!({"enabled": true, "base_url": endpoint.url, "api_key_env": "TRANSCRIBE_KEY",
                                     "timeout_seconds": 2});
    });
    let env = bot.sandbox.path(".env");
    let text = std::fs::read_to_string(&env).unwrap();
    std::fs::write(&env, format!("{text}TRANSCRIBE_KEY={}\n", transcribe::KEY)).unwrap();
    let l = listen(&bot, port);
    let ts = (chrono_now() / 1000).to_string();
    let messages = json!([
        {"from": "15550001111", "id": "wamid.VOICE1", "timestamp": ts, "type": "audio",
         "audio": {"id": "2043910374", "mime_type": "audio/ogg; codecs=opus", "voice": true}},
    ]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(messages, json!([]), json!([])), None),
        200
    );
    wait_until(&bot, &provider, "the voice note downloaded", || {
        bot.count("SELECT count(*) FROM media_files WHERE download_state = 'done'") == 1
    });

    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 1, "{summary}");
    let sent = endpoint.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].file, voice, "the file as WhatsApp sent it");
    let turn = bot.llm.conversation(0);
    assert_eq!(turn.last().unwrap().1, format!("[voice note] {SPOKEN}"));
    wait_until(
        &bot,
        &provider,
        "the reply sent through the Graph API",
        || provider.sends().iter().any(|s| s["to"] == "15550001111"),
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_person_configured_by_phone_is_answered_when_meta_withholds_the_number() {
    const DANA_BSUID: &str = "US.77712345678901234567";
    let provider = Provider::start(&[], Vec::new());
    let (bot, port) = bot("cloud-api", &provider, |c| {
        c["monitored_entities"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "phone": "15550004444", "name": "Dana"}));
    });
    let l = listen(&bot, port);
    let ts = (chrono_now() / 1000).to_string();
    // Meta names Dana by both: the pairing is learnt.
    let both = cloud_payload(
        json!([{"from": "15550004444", "from_user_id": DANA_BSUID, "id": "wamid.D1",
                "timestamp": ts, "type": "text", "text": {"body": "hello"}}]),
        json!([]),
        json!([{"profile": {"name": "Dana"}, "wa_id": "15550004444", "user_id": DANA_BSUID}]),
    );
    assert_eq!(post_cloud(&l, &both, None), 200);
    // Later Meta withholds her number (a username, no recent interaction).
    let bsuid_only = cloud_payload(
        json!([{"from_user_id": DANA_BSUID, "id": "wamid.D2", "timestamp": ts,
                "type": "text", "text": {"body": "still me"}}]),
        json!([]),
        json!([{"profile": {"name": "Dana", "username": "@dana"}, "user_id": DANA_BSUID}]),
    );
    assert_eq!(post_cloud(&l, &bsuid_only, None), 200);
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM messages WHERE chat_jid = '15550004444@s.whatsapp.net'
             AND status = 'pending'"
        ),
        2,
        "one person, one chat, answered"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE chat_jid LIKE '%@bsuid'"),
        0
    );
    // Her number changes (Meta's system message): the chat follows, with its history.
    let changed = cloud_payload(
        json!([{"from": "15550004444", "id": "wamid.S1", "timestamp": ts, "type": "system",
                "system": {"body": "User Dana changed from 15550004444 to 15550006666",
                           "wa_id": "15550006666", "type": "user_changed_number"}}]),
        json!([]),
        json!([]),
    );
    assert_eq!(post_cloud(&l, &changed, None), 200);
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE chat_jid = '15550006666@s.whatsapp.net'"),
        2,
        "the history moved; the system message is no chat message"
    );
}

#[test]
fn readers_and_writers_beside_the_listener_see_every_acknowledged_message_and_break_nothing() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let mut l = listen(&bot, port);
    let db = bot.sandbox.db_path();
    for i in 0..6 {
        let sid = format!("SM{i:032}");
        let hello = inbound_twilio(&sid, "hello");
        assert_eq!(post_twilio(&l, "/hooks/whatsapp", &hello, None), 200);
        // Another process reads and closes, as a backup script does. (The SQLite bundled
        // here does not delete a WAL others still map; Debian's sqlite3 and Python's do,
        // which scripts/twilio-check.py tries beside a listener in CI.)
        let reader = rusqlite::Connection::open(&db).unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        drop(reader);
        assert_eq!(seen, i + 1, "acknowledged message {i} is visible to others");
        let writer = rusqlite::Connection::open(&db).unwrap();
        writer
            .execute_batch("CREATE TABLE IF NOT EXISTS notes (n); INSERT INTO notes VALUES (1)")
            .unwrap();
        drop(writer);
    }
    // kill -9: whatever was acknowledged must be in the file.
    l.child.kill().unwrap();
    l.child.wait().unwrap();
    let after = rusqlite::Connection::open(&db).unwrap();
    let verdict: String = after
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    let (stored, notes): (i64, i64) = after
        .query_row(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM notes)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((stored, notes), (6, 6));
}

#[test]
fn a_write_lock_held_longer_than_any_timeout_costs_no_webhook_and_no_listener() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let mut l = listen(&bot, port);
    let holder = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    // Four times as many requests as workers, at once.
    let posts: Vec<_> = (0..16)
        .map(|i| {
            let url = l.url.clone();
            std::thread::spawn(move || {
                let sid = format!("SM{:032}", 100 + i);
                let params = inbound_twilio(&sid, "during the lock");
                let signed = twilio_signature("https://bot.example.com/hooks/whatsapp", &params);
                let began = std::time::Instant::now();
                let status = agent()
                    .post(format!("{url}/hooks/whatsapp"))
                    .header("X-Twilio-Signature", &signed)
                    .send_form(params.iter().copied())
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (status, began.elapsed())
            })
        })
        .collect();
    for post in posts {
        let (status, took) = post.join().unwrap();
        assert_eq!(status, 200, "answered, kept on disk");
        assert!(
            took < std::time::Duration::from_secs(15),
            "within Twilio's 15 s: {took:?}"
        );
    }
    // Past the store's 15 s busy timeout, with the heartbeat due every 5 s.
    while started.elapsed() < std::time::Duration::from_secs(20) {
        assert!(
            l.child.try_wait().unwrap().is_none(),
            "the listener is alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    holder.execute_batch("ROLLBACK").unwrap();
    wait_until(&bot, &provider, "every kept request stored", || {
        bot.count("SELECT count(*) FROM messages") == 16
    });
    assert!(
        l.child.try_wait().unwrap().is_none(),
        "the listener is alive"
    );
}

#[test]
fn clients_dripping_headers_or_bodies_do_not_delay_valid_webhooks() {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("twilio", &provider, |_| {});
    let l = listen(&bot, port);
    let done = Arc::new(AtomicBool::new(false));
    let drips: Vec<_> = (0..12)
        .map(|i| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                // Half drip their headers, half a body they announced as 3000 bytes.
                let start = if i % 2 == 0 {
                    "POST /hooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n"
                } else {
                    "POST /hooks/whatsapp HTTP/1.1\r\nHost: x\r\n"
                };
                let _ = s.write_all(start.as_bytes());
                while !done.load(Ordering::Relaxed) {
                    if s.write_all(b"a").is_err() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            })
        })
        .collect();
    for i in 0..6 {
        let sid = format!("SM{:032}", 500 + i);
        let began = std::time::Instant::now();
        let status = post_twilio(&l, "/hooks/whatsapp", &inbound_twilio(&sid, "hi"), None);
        assert_eq!(status, 200);
        assert!(
            began.elapsed() < std::time::Duration::from_secs(2),
            "answered beside the slow clients: {:?}",
            began.elapsed()
        );
    }
    done.store(true, Ordering::Relaxed);
    for drip in drips {
        drip.join().unwrap();
    }
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 6);
}

#[test]
fn a_stalled_media_download_holds_no_reply() {
    let provider = Provider::start(&[], vec![]);
    // Accepts connections and never answers: the download waits out its timeout.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled = format!(
        "http://{}/2010-04-01/Accounts/{SID}/Messages/MM0002/Media/ME0002",
        black_hole.local_addr().unwrap()
    );
    let (bot, port) = bot("twilio", &provider, |c| {
        c["media"] = json!({"download": true})
    });
    let l = listen(&bot, port);
    let mut params = inbound_twilio("MM0002", "a photo");
    params.retain(|(k, _)| *k != "NumMedia");
    params.extend([
        ("NumMedia", "1"),
        ("MediaUrl0", stalled.as_str()),
        ("MediaContentType0", "image/jpeg"),
    ]);
    assert_eq!(post_twilio(&l, "/hooks/whatsapp", &params, None), 200);
    let sent = bot
        .sandbox
        .run(&["send", "--to", ALICE, "while the photo stalls"]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    let began = std::time::Instant::now();
    wait_until(&bot, &provider, "the reply sent", || {
        !provider.sends().is_empty()
    });
    assert!(
        began.elapsed() < std::time::Duration::from_secs(10),
        "sent beside the stalled download, not after its timeout: {:?}",
        began.elapsed()
    );
}

#[test]
fn cloud_api_edits_and_revokes_change_the_original_and_long_inputs_are_logged_bounded() {
    let provider = Provider::start(&[], vec![]);
    let (bot, port) = bot("cloud-api", &provider, |_| {});
    let mut l = listen(&bot, port);
    let ts = (chrono_now() / 1000).to_string();
    let contacts = json!([{"profile": {"name": "Alice"}, "wa_id": "15550001111"}]);
    let said = json!([{"from": "15550001111", "id": "wamid.ORIG", "timestamp": ts,
                       "type": "text", "text": {"body": "see you at 7"}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(said, json!([]), contacts.clone()), None),
        200
    );
    let edit = json!([{"from": "15550001111", "id": "wamid.EDIT", "timestamp": ts, "type": "edit",
        "edit": {"original_message_id": "wamid.ORIG",
                 "message": {"type": "text", "text": {"body": "see you at 8"}}}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(edit, json!([]), contacts.clone()), None),
        200
    );
    let content: String = bot
        .sandbox
        .sql("SELECT content FROM messages WHERE id = 'wamid.ORIG'");
    assert_eq!(content, "see you at 8");
    assert_eq!(bot.count("SELECT count(*) FROM messages"), 1, "no new row");
    assert_eq!(
        bot.count("SELECT count(*) FROM message_versions"),
        1,
        "the old text kept"
    );
    // Someone else cannot rewrite Alice's words.
    let forged = json!([{"from": "15550002222", "id": "wamid.EDIT2", "timestamp": ts, "type": "edit",
        "edit": {"original_message_id": "wamid.ORIG",
                 "message": {"type": "text", "text": {"body": "cancelled"}}}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(forged, json!([]), json!([])), None),
        200
    );
    let content: String = bot
        .sandbox
        .sql("SELECT content FROM messages WHERE id = 'wamid.ORIG'");
    assert_eq!(content, "see you at 8");
    let revoke = json!([{"from": "15550001111", "id": "wamid.DEL", "timestamp": ts, "type": "revoke",
        "revoke": {"original_message_id": "wamid.ORIG"}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(revoke, json!([]), contacts), None),
        200
    );
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM messages WHERE id = 'wamid.ORIG' AND revoked_at IS NOT NULL"
        ),
        1
    );
    // A signed message from a 2 000-digit sender (the body cap here is 4 KiB):
    // quarantined, and logged bounded.
    let long = "9".repeat(2000);
    let odd = json!([{"from": long, "id": "wamid.LONG", "timestamp": ts, "type": "text",
                      "text": {"body": "hi"}}]);
    assert_eq!(
        post_cloud(&l, &cloud_payload(odd, json!([]), json!([])), None),
        200
    );
    assert_eq!(bot.count("SELECT count(*) FROM quarantine"), 1);
    l.child.kill().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(l.child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("quarantined"), "{log}");
    assert!(
        !log.contains(&"9".repeat(200)),
        "every logged input is bounded"
    );
}
