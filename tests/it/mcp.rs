//! `wabot mcp` driven as a child process by the official Rust MCP client.

use crate::common;

use common::{Sandbox, fixture_config};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ()>;

async fn connect(sandbox: &Sandbox, flags: &[&str]) -> Client {
    let dir = sandbox.dir.path().to_path_buf();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wabot")).configure(|c| {
        c.arg("mcp")
            .args(flags)
            .current_dir(&dir)
            .env_remove("WABOT_CONFIG")
            .env_remove("WABOT_DB")
            .env_remove("RUST_LOG");
    });
    let transport = TokioChildProcess::new(command).expect("start wabot mcp");
    ().serve(transport).await.expect("initialize")
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {result:?}");
    assert!(
        result.structured_content.is_none(),
        "the result is sent once, as text"
    );
    let [block] = result.content.as_slice() else {
        panic!("one content block: {result:?}")
    };
    let text = block.as_text().expect("a text block");
    serde_json::from_str(&text.text).expect("the result as JSON")
}

fn error_text(result: &CallToolResult) -> String {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected a tool error: {result:?}"
    );
    serde_json::to_string(&result.content).unwrap()
}

async fn tool_names(client: &Client) -> Vec<String> {
    let tools = client.list_all_tools().await.expect("list tools");
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn read_only_by_default_searches_and_reads() {
    let sandbox = Sandbox::stocked();
    let client = connect(&sandbox, &[]).await;
    let info = client.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("server identity");
    assert_eq!(server.name, "wabot");

    let tools = client.list_all_tools().await.expect("list tools");
    let names: Vec<_> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "list_chats",
        "search_messages",
        "read_chat",
        "get_message",
        "find_contacts",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"send_message"),
        "read-only server offers send: {names:?}"
    );
    for tool in &tools {
        let hints = tool.annotations.as_ref().expect("annotations");
        assert_eq!(hints.read_only_hint, Some(true), "{}", tool.name);
    }

    let chats = ok(&call(&client, "list_chats", json!({})).await);
    assert_eq!(chats["total"], 3, "{chats}");
    let family = chats["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["jid"] == "120363041234567890@g.us")
        .expect("the group is listed");
    assert_eq!(family["monitored"], true);
    assert_eq!(family["messages"], 3);
    // Carol wrote after the account's own "Sure": one message waits.
    assert_eq!(family["unanswered"], 1, "{family}");

    let found = ok(&call(&client, "search_messages", json!({"query": "spark"})).await);
    assert_eq!(found["count"], 1, "{found}");
    let hit = &found["hits"][0];
    assert_eq!(hit["id"], "3EB0A1B2C3D4E5F60001");
    assert_eq!(hit["author"], "other");
    assert_eq!(hit["text"], "Hi! What is Apache Spark?");
    assert!(
        hit["snippet"].as_str().unwrap().contains("[Spark]"),
        "{hit}"
    );
    assert!(found["note"].as_str().unwrap().contains("other people"));
    let ranked = ok(&call(
        &client,
        "search_messages",
        json!({"query": "spark", "rank": true}),
    )
    .await);
    assert_eq!(ranked["hits"], found["hits"], "{ranked}");
    let filtered = ok(&call(
        &client,
        "search_messages",
        json!({"query": "spark", "chat": "Family"}),
    )
    .await);
    assert_eq!(filtered["count"], 0, "{filtered}");

    let page = ok(&call(&client, "read_chat", json!({"chat": "Family", "limit": 2})).await);
    let texts: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("Sure"), json!("[image] the menu")], "{page}");
    assert_eq!(page["messages"][0]["author"], "me");
    assert_eq!(
        page["next_page"]["before_message_id"],
        "3EB0A1B2C3D4E5F60004"
    );
    let older = ok(&call(
        &client,
        "read_chat",
        json!({"chat": "120363041234567890@g.us", "before_message_id": "3EB0A1B2C3D4E5F60004"}),
    )
    .await);
    assert_eq!(older["messages"].as_array().unwrap().len(), 1);
    assert_eq!(older["messages"][0]["text"], "Dinner at 8?");
    assert_eq!(older["next_page"], Value::Null);

    let message = ok(&call(
        &client,
        "get_message",
        json!({"message_id": "3EB0A1B2C3D4E5F60004"}),
    )
    .await);
    assert_eq!(message["message"]["text"], "Sure");
    assert_eq!(message["before"][0]["text"], "Dinner at 8?");
    assert_eq!(message["after"][0]["text"], "[image] the menu");

    let contacts = ok(&call(&client, "find_contacts", json!({"query": "ali"})).await);
    assert_eq!(
        contacts["matches"][0]["jid"], "15550001111@s.whatsapp.net",
        "{contacts}"
    );

    // Bad arguments are tool errors the assistant can read, not protocol failures.
    let bad = error_text(&call(&client, "search_messages", json!({"query": "\"unclosed"})).await);
    assert!(bad.contains("malformed search query"), "{bad}");
    let unknown = error_text(&call(&client, "read_chat", json!({"chat": "Nobody"})).await);
    assert!(unknown.contains("Nobody"), "{unknown}");
    let too_many = error_text(
        &call(
            &client,
            "read_chat",
            json!({"chat": "Family", "limit": 1000}),
        )
        .await,
    );
    assert!(too_many.contains("at most 100"), "{too_many}");
    let refused = client
        .call_tool(
            CallToolRequestParams::new("send_message").with_arguments(
                json!({"chat": "Alice", "text": "hi"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await;
    assert!(refused.is_err() || refused.unwrap().is_error == Some(true));
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 0);
    // An idle server holds no lock: another job writes at once (no busy wait here).
    sandbox.exec("BEGIN IMMEDIATE; UPDATE processing_state SET paused = paused; COMMIT;");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn sends_only_when_allowed_and_only_to_listed_chats() {
    let sandbox = Sandbox::stocked();
    let mut config = fixture_config();
    config["mcp"] = json!({ "send_to": ["Alice"] });
    sandbox.write_config(&config);
    let client = connect(&sandbox, &["--allow-send"]).await;

    let tools = client.list_all_tools().await.expect("list tools");
    let send = tools
        .iter()
        .find(|t| t.name == "send_message")
        .expect("send tool offered");
    let hints = send.annotations.as_ref().expect("annotations");
    assert_eq!(hints.read_only_hint, Some(false));
    assert_eq!(hints.destructive_hint, Some(true));

    let sent = ok(&call(
        &client,
        "send_message",
        json!({"chat": "+1 555 000 1111", "text": "Hello from MCP"}),
    )
    .await);
    assert_eq!(sent["chat"]["jid"], "15550001111@s.whatsapp.net", "{sent}");
    assert_eq!(sent["status"], "pending");
    let refused = error_text(
        &call(
            &client,
            "send_message",
            json!({"chat": "Family", "text": "nope"}),
        )
        .await,
    );
    assert!(refused.contains("mcp.send_to"), "{refused}");
    client.cancel().await.expect("close");

    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 1);
    assert_eq!(
        sandbox.sql::<String>("SELECT content FROM outbox WHERE chat_jid = '15550001111@s.whatsapp.net' AND kind = 'manual'"),
        "Hello from MCP"
    );

    // --allow-send-any lifts the list.
    let client = connect(&sandbox, &["--allow-send-any"]).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"send_message".to_string())
    );
    // With no listener running, a wait ends with the message still queued.
    let waited = ok(&call(
        &client,
        "send_message",
        json!({"chat": "Alice", "text": "second", "wait_seconds": 1}),
    )
    .await);
    assert_eq!(waited["sent"], false, "{waited}");
    assert!(
        waited["note"].as_str().unwrap().contains("listener"),
        "{waited}"
    );
    sandbox.exec("DELETE FROM outbox WHERE content = 'second'");
    ok(&call(
        &client,
        "send_message",
        json!({"chat": "Family", "text": "to the group"}),
    )
    .await);
    client.cancel().await.expect("close");
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 2);
}

#[test]
fn allowing_send_without_a_list_is_a_configuration_error() {
    let sandbox = Sandbox::stocked();
    let run = sandbox.run(&["mcp", "--allow-send"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(run.stderr().contains("mcp.send_to"), "{}", run.stderr());
    assert!(
        run.stdout().is_empty(),
        "stdout is the protocol's: {}",
        run.stdout()
    );
}

#[tokio::test]
async fn a_name_in_send_to_means_a_configured_entity_never_a_strangers_push_name() {
    let sandbox = Sandbox::stocked();
    // A stranger who calls themselves Carol.
    sandbox.exec(
        "INSERT INTO contacts (jid, push_name, created_at, updated_at)
         VALUES ('15550007777@s.whatsapp.net', 'Carol', 0, 0)",
    );
    let mut config = fixture_config();
    config["mcp"] = json!({ "send_to": ["Carol"] });
    sandbox.write_config(&config);
    let run = sandbox.run(&["mcp", "--allow-send"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr().contains("\"Carol\" names no monitored entity")
            && run.stderr().contains("Alice"),
        "refused, the candidates listed: {}",
        run.stderr()
    );

    config["mcp"] = json!({ "send_to": ["Alice"] });
    sandbox.write_config(&config);
    let client = connect(&sandbox, &["--allow-send"]).await;
    let refused = error_text(
        &call(
            &client,
            "send_message",
            json!({"chat": "15550007777", "text": "hi Carol"}),
        )
        .await,
    );
    assert!(refused.contains("mcp.send_to"), "{refused}");
    let contacts = ok(&call(&client, "find_contacts", json!({"query": "Carol"})).await);
    assert!(
        contacts["note"]
            .as_str()
            .unwrap()
            .contains("chosen by the people"),
        "{contacts}"
    );
    let chats = ok(&call(&client, "list_chats", json!({})).await);
    assert!(chats["note"].is_string(), "{chats}");
    client.cancel().await.expect("close");
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 0);
}
