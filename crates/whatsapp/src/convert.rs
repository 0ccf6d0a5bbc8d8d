//! WhatsApp events → wabot's domain records. Pure functions over the library's real
//! message values, so every kind of message is tested without a server.
//!
//! Nothing WhatsApp delivers is dropped here: content wabot cannot read becomes a row of
//! type `unsupported` carrying the protobuf; only protocol traffic and status updates
//! are skipped.

use whatsapp_rust::prelude::*;
use whatsapp_rust::wacore::download::Downloadable;
use whatsapp_rust::wacore_binary::{JidExt, Server};

use wabot_core::attachment::{DownloadRef, Media};
pub use wabot_core::inbound::{Inbound, PollSecret, Received, Vote};
use wabot_core::message::{Kept, MessageKind, NewMessage, Origin};
use wabot_core::sink::NumberChange;
use whatsapp_rust::types::events::ContactNumberChanged;

/// Converts a received message with what it reveals beside its content.
pub fn receive(info: &MessageInfo, message: &wa::Message) -> Received {
    Received {
        inbound: convert(info, message),
        identities: lid_mappings(info),
        poll: poll_secret(info, message),
    }
}

/// Wrapper layers (`FutureProofMessage`, `DeviceSentMessage`) nest; the bound keeps a
/// hostile message from looping.
const MAX_WRAPPER_DEPTH: usize = 40;

/// The content inside every wrapper layer (view-once, ephemeral, edited, album child,
/// document-with-caption, group-mentioned, bot, lottie, spoiler, question, …).
pub fn unwrap_layers(message: &wa::Message) -> &wa::Message {
    let mut current = message;
    for _ in 0..MAX_WRAPPER_DEPTH {
        match inner(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

fn inner(m: &wa::Message) -> Option<&wa::Message> {
    if let Some(inner) = m
        .device_sent_message
        .as_option()
        .and_then(|d| d.message.as_option())
    {
        return Some(inner);
    }
    [
        &m.ephemeral_message,
        &m.view_once_message,
        &m.view_once_message_v2,
        &m.view_once_message_v2_extension,
        &m.document_with_caption_message,
        &m.edited_message,
        &m.group_mentioned_message,
        &m.bot_invoke_message,
        &m.lottie_sticker_message,
        &m.event_cover_image,
        &m.status_mention_message,
        &m.poll_creation_option_image_message,
        &m.associated_child_message,
        &m.group_status_mention_message,
        &m.poll_creation_message_v4,
        &m.status_add_yours,
        &m.group_status_message,
        &m.limit_sharing_message,
        &m.bot_task_message,
        &m.question_message,
        &m.group_status_message_v2,
        &m.bot_forwarded_message,
        &m.question_reply_message,
        &m.newsletter_admin_profile_message,
        &m.newsletter_admin_profile_message_v2,
        &m.spoiler_message,
        &m.newsletter_admin_profile_status_message,
    ]
    .into_iter()
    .find_map(|w| w.as_option().and_then(|w| w.message.as_option()))
}

/// The identity of a JID as wabot stores it: device suffix dropped, and a hosted
/// (business-hosted) address folded into the account it belongs to.
pub fn identity(jid: &Jid) -> String {
    match jid.server {
        Server::Hosted => format!("{}@s.whatsapp.net", jid.user),
        Server::HostedLid => format!("{}@lid", jid.user),
        _ => jid.to_non_ad_string(),
    }
}

pub fn convert(info: &MessageInfo, message: &wa::Message) -> Inbound {
    let chat = &info.source.chat;
    if chat.is_status_broadcast() || chat.is_broadcast_list() {
        return Inbound::Skip("status or broadcast");
    }
    if chat.is_newsletter() {
        return Inbound::Skip("newsletter");
    }
    let base = unwrap_layers(message);
    let chat_jid = identity(chat);
    let at = info.timestamp.timestamp_millis();
    let record = |kind: MessageKind, content: String| NewMessage {
        chat_jid: chat_jid.clone(),
        id: info.id.clone(),
        sender: identity(&info.source.sender),
        content,
        timestamp_ms: at,
        is_from_me: info.source.is_from_me,
        message_type: kind,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        mentions: Vec::new(),
        quoted_id: None,
        origin: Origin::Live,
        media: None,
        kept: Kept::default(),
        transcript: None,
    };
    if let Some(protocol) = base.protocol_message.as_option() {
        use wa::message::protocol_message::Type;
        let target = protocol.key.as_option().and_then(|k| k.id.clone());
        return match (protocol.r#type, target) {
            (Some(Type::REVOKE), Some(id)) => Inbound::Revoke {
                chat_jid,
                id,
                by: identity(&info.source.sender),
                at,
            },
            (Some(Type::MESSAGE_EDIT), Some(id)) => {
                let content = protocol
                    .edited_message
                    .as_option()
                    .map(unwrap_layers)
                    .and_then(|m| m.text_content().or_else(|| m.get_caption()))
                    .unwrap_or_default()
                    .to_string();
                let at = protocol.timestamp_ms.unwrap_or(at);
                Inbound::Edit {
                    chat_jid,
                    id,
                    content,
                    by: identity(&info.source.sender),
                    at,
                }
            }
            (Some(Type::EPHEMERAL_SETTING), _) => {
                let content = match protocol.ephemeral_expiration.unwrap_or_default() {
                    0 => "[disappearing messages: off]".to_string(),
                    secs => format!("[disappearing messages: {}]", duration(u64::from(secs))),
                };
                Inbound::Message(record(MessageKind::EphemeralSetting, content))
            }
            _ => Inbound::Skip("protocol message"),
        };
    }
    if is_status(message) {
        // Posted to a status (or mentioning the account in one), not said in the chat.
        let text = base
            .text_content()
            .or_else(|| base.get_caption())
            .unwrap_or("");
        return Inbound::Message(record(MessageKind::Status, format!("[status] {text}")));
    }
    if let Some(update) = base.poll_update_message.as_option() {
        return poll_vote(
            info,
            message,
            update,
            record(MessageKind::Unsupported, String::new()),
        );
    }
    let Some(body) = body(base) else {
        return match wire_types(base).first() {
            Some(wire) => Inbound::Message(unsupported(
                record(MessageKind::Unsupported, String::new()),
                wire,
                message,
            )),
            None if carries_keys(base) => Inbound::Skip("key distribution only"),
            None => Inbound::Message(unknown(
                record(MessageKind::Unsupported, String::new()),
                info,
            )),
        };
    };
    let mut m = record(body.kind, body.content);
    m.mentions = body
        .context
        .map(|c| c.mentioned_jid.clone())
        .unwrap_or_default();
    m.quoted_id = body.quoted;
    m.media = attachment_of(base).map(|mut media| {
        media.view_once = is_view_once(message);
        Box::new(media)
    });
    Inbound::Message(m)
}

/// Whether a message was sent to be viewed once: a view-once wrapper at any depth, or
/// the flag on the media itself.
fn is_view_once(message: &wa::Message) -> bool {
    let mut current = message;
    for _ in 0..MAX_WRAPPER_DEPTH {
        let wrapped = [
            &current.view_once_message,
            &current.view_once_message_v2,
            &current.view_once_message_v2_extension,
        ];
        if wrapped.iter().any(|w| w.as_option().is_some()) {
            return true;
        }
        match inner(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    [
        current.image_message.as_option().and_then(|x| x.view_once),
        current.video_message.as_option().and_then(|x| x.view_once),
        current.audio_message.as_option().and_then(|x| x.view_once),
    ]
    .contains(&Some(true))
}

/// The record of content wabot cannot read: its wire type and the whole protobuf.
fn unsupported(mut m: NewMessage, wire: &str, message: &wa::Message) -> NewMessage {
    m.message_type = MessageKind::Unsupported;
    m.content = format!("[unsupported: {wire}]");
    m.kept.wire_type = Some(wire.to_string());
    m.kept.wire_raw = Some(whatsapp_rust::waproto::codec::message_to_vec(message));
    m
}

/// Whether a layer of the message is a status update: a mention of the account in a
/// contact's status, or a status posted to a group. These arrive in ordinary chats and
/// unwrap into ordinary content, but nobody said them there.
fn is_status(message: &wa::Message) -> bool {
    let mut current = message;
    for _ in 0..MAX_WRAPPER_DEPTH {
        if current.status_mention_message.is_set()
            || current.group_status_mention_message.is_set()
            || current.group_status_message.is_set()
            || current.group_status_message_v2.is_set()
            || current.status_add_yours.is_set()
            || current.status_notification_message.is_set()
        {
            return true;
        }
        match inner(current) {
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

/// A message with no field set at all: its content is of a kind the library's protobuf
/// schema does not know, and the decoder dropped it (the library keeps neither the
/// plaintext nor its unknown fields). What the envelope says is kept, so the row shows
/// that something came and what kind the server called it.
fn unknown(mut m: NewMessage, info: &MessageInfo) -> NewMessage {
    let mut known = vec![format!("type {}", info.r#type)];
    if !info.media_type.is_empty() {
        known.push(format!("media {}", info.media_type));
    }
    let wire = format!("unknown ({})", known.join(", "));
    m.message_type = MessageKind::Unsupported;
    m.content = format!("[unsupported: a kind of message this version cannot read; {wire}]");
    m.kept.wire_type = Some(wire);
    m
}

/// Only key material for later messages (a group's sender key), nothing to show.
fn carries_keys(m: &wa::Message) -> bool {
    m.sender_key_distribution_message.is_set()
        || m.fast_ratchet_key_sender_key_distribution_message.is_set()
        || m.message_context_info.is_set()
}

/// Fields that accompany content rather than being it.
const ENVELOPE_FIELDS: [&str; 3] = [
    "message_context_info",
    "sender_key_distribution_message",
    "fast_ratchet_key_sender_key_distribution_message",
];

/// The names of the content fields a message has set (the library has no reflection;
/// its serde form names every field, unset ones as null).
pub fn wire_types(m: &wa::Message) -> Vec<String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(m) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(name, value)| {
            !value.is_null()
                && !ENVELOPE_FIELDS.contains(&name.as_str())
                && value != &serde_json::Value::String(String::new())
        })
        .map(|(name, _)| name)
        .collect()
}

fn poll_vote(
    info: &MessageInfo,
    message: &wa::Message,
    update: &wa::message::PollUpdateMessage,
    record: NewMessage,
) -> Inbound {
    let mut m = unsupported(record, "poll_update_message", message);
    let poll_id = update
        .poll_creation_message_key
        .as_option()
        .and_then(|k| k.id.clone());
    m.quoted_id = poll_id.clone();
    let vote = update.vote.as_option();
    match (
        poll_id,
        vote.and_then(|v| v.enc_payload.clone()),
        vote.and_then(|v| v.enc_iv.clone()),
    ) {
        (Some(poll_id), Some(enc_payload), Some(enc_iv)) => Inbound::Vote {
            message: m,
            vote: Vote {
                poll_id,
                voter_jid: info.source.sender.to_non_ad_string(),
                voter_alt: info.source.sender_alt.as_ref().map(Jid::to_non_ad_string),
                enc_payload,
                enc_iv,
            },
        },
        _ => Inbound::Message(m),
    }
}

/// The options a decrypted vote selected, by name; `None` when it cannot be read.
/// `creator_alt` is the poll's creator in the other namespace. The creator's and the
/// voter's JIDs key the vote together, in one namespace: as contacts move to LIDs a
/// vote can be keyed in another namespace than the one the poll was learnt in (a poll
/// from history names its creator by phone number). So the vote is tried in the
/// namespace it arrived in, then with both JIDs swapped together (wacore's fallback,
/// as WhatsApp Web does), never mixed.
pub fn read_vote(vote: &Vote, poll: &PollSecret, creator_alt: Option<&str>) -> Option<Vec<String>> {
    use whatsapp_rust::wacore::poll;
    let is_lid = |jid: &str| jid.ends_with("@lid");
    let stored = Some(poll.creator_jid.as_str());
    let (creator_here, creator_there) = if is_lid(&vote.voter_jid) == is_lid(&poll.creator_jid) {
        (stored, creator_alt)
    } else {
        (creator_alt, stored)
    };
    fn addressing<'a>(creator: &'a str, voter: &'a str) -> poll::PollVoteAddressing<'a> {
        poll::PollVoteAddressing {
            poll_creator_jid: creator,
            voter_jid: voter,
        }
    }
    let here = creator_here.map(|c| addressing(c, &vote.voter_jid));
    let there = creator_there
        .zip(vote.voter_alt.as_deref())
        .map(|(c, v)| addressing(c, v));
    // Neither pairing known in full: the JIDs as they are, the only try left.
    let (primary, fallback) = match (here, there) {
        (Some(here), there) => (here, there),
        (None, Some(there)) => (there, None),
        (None, None) => (addressing(&poll.creator_jid, &vote.voter_jid), None),
    };
    let hashes = poll::decrypt_poll_vote_with_fallback(
        poll::PollVoteCiphertext {
            enc_payload: &vote.enc_payload,
            enc_iv: &vote.enc_iv,
        },
        &poll.secret,
        &poll.message_id,
        primary,
        fallback,
    )
    .ok()?;
    Some(
        hashes
            .iter()
            .map(|hash| {
                poll.options
                    .iter()
                    .find(|o| poll::compute_option_hash(o).as_slice() == hash.as_slice())
                    .cloned()
                    .unwrap_or_else(|| format!("option {}", hex::encode(hash)))
            })
            .collect(),
    )
}

/// A poll's secret (on the outermost layer that carries one) and its options.
fn poll_secret(info: &MessageInfo, message: &wa::Message) -> Option<PollSecret> {
    let poll = polls(unwrap_layers(message))?;
    let mut layer = Some(message);
    let mut secret = None;
    while let Some(m) = layer {
        secret = m
            .message_context_info
            .as_option()
            .and_then(|c| c.message_secret.clone());
        if secret.is_some() {
            break;
        }
        layer = inner(m);
    }
    Some(PollSecret {
        message_id: info.id.clone(),
        creator_jid: info.source.sender.to_non_ad_string(),
        secret: secret?,
        options: poll
            .options
            .iter()
            .filter_map(|o| o.option_name.clone())
            .collect(),
    })
}

fn polls(m: &wa::Message) -> Option<&wa::message::PollCreationMessage> {
    [
        &m.poll_creation_message,
        &m.poll_creation_message_v2,
        &m.poll_creation_message_v3,
        &m.poll_creation_message_v5,
        &m.poll_creation_message_v6,
    ]
    .into_iter()
    .find_map(|p| p.as_option())
}

/// `90 s`, `5 min`, `7 days`: the usual disappearing-message and call durations.
fn duration(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// WhatsApp's notice of a contact's new number, as the store takes it.
pub fn number_change(changed: &ContactNumberChanged) -> NumberChange {
    NumberChange {
        old_jid: identity(&changed.old_jid),
        new_jid: identity(&changed.new_jid),
        old_alias: changed.old_lid.as_ref().map(identity),
        new_alias: changed.new_lid.as_ref().map(identity),
    }
}

/// Every (LID, phone JID) pair the message's envelope reveals: the sender and its
/// alternate identity, and for the account's own messages in a LID chat the peer's
/// phone number.
pub fn lid_mappings(info: &MessageInfo) -> Vec<(String, String)> {
    let source = &info.source;
    let mut pairs = Vec::new();
    let mut pair = |a: &Jid, b: &Jid| match (a.is_lid(), b.is_lid()) {
        (true, false) if b.is_pn() => pairs.push((identity(a), identity(b))),
        (false, true) if a.is_pn() => pairs.push((identity(b), identity(a))),
        _ => {}
    };
    if let Some(alt) = &source.sender_alt {
        pair(&source.sender, alt);
    }
    if let Some(alt) = &source.recipient_alt {
        pair(&source.chat, alt);
    }
    if !source.is_group
        && let Some(pn) = &info.peer_recipient_pn
    {
        pair(&source.chat, pn);
    }
    pairs.dedup();
    pairs
}

/// The placeholder of a message WhatsApp delivered but the library could not decrypt:
/// kept (never answered) until the retry or the phone brings the plaintext, which
/// replaces it under the same id.
pub fn undecryptable(info: &MessageInfo) -> Inbound {
    let chat = &info.source.chat;
    if chat.is_status_broadcast() || chat.is_broadcast_list() || chat.is_newsletter() {
        return Inbound::Skip("status, broadcast or newsletter");
    }
    Inbound::Message(NewMessage {
        sender: identity(&info.source.sender),
        is_from_me: info.source.is_from_me,
        message_type: MessageKind::Undecryptable,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        ..NewMessage::text(
            Origin::Live,
            identity(chat),
            info.id.clone(),
            info.timestamp.timestamp_millis(),
            "[message not decrypted yet]",
        )
    })
}

struct Body<'a> {
    kind: MessageKind,
    content: String,
    context: Option<&'a wa::ContextInfo>,
    quoted: Option<String>,
}

/// The attachment of a media message, in the order [`body`] reads the kinds.
fn attachment_of(m: &wa::Message) -> Option<Media> {
    let video = m.video_message.as_option().or(m.ptv_message.as_option());
    let (file, kind, mimetype, caption, name): (&dyn Downloadable, _, _, _, _) =
        if let Some(x) = m.image_message.as_option() {
            (x, "image", &x.mimetype, x.caption.as_deref(), None)
        } else if let Some(x) = video {
            (x, "video", &x.mimetype, x.caption.as_deref(), None)
        } else if let Some(x) = m.document_message.as_option() {
            let name = x.file_name.as_deref();
            (x, "document", &x.mimetype, x.caption.as_deref(), name)
        } else if let Some(x) = m.audio_message.as_option() {
            (x, "audio", &x.mimetype, None, None)
        } else if let Some(x) = m.sticker_message.as_option() {
            (x, "sticker", &x.mimetype, None, None)
        } else {
            return None;
        };
    Some(attachment(file, kind, mimetype.as_deref(), caption, name))
}

/// The attachment record of a media message, from the fields every media kind shares.
fn attachment(
    file: &dyn Downloadable,
    kind: &'static str,
    mimetype: Option<&str>,
    caption: Option<&str>,
    file_name: Option<&str>,
) -> Media {
    let download = match (file.direct_path(), file.media_key(), file.file_enc_sha256()) {
        (Some(path), Some(key), Some(enc)) if !path.is_empty() => Some(DownloadRef {
            direct_path: path.to_string(),
            media_key: hex::encode(key),
            file_enc_sha256: hex::encode(enc),
            file_length: file.file_length().unwrap_or_default(),
        }),
        _ => None,
    };
    Media {
        kind,
        mimetype: mimetype.map(str::to_string),
        size_bytes: file.file_length().and_then(|n| i64::try_from(n).ok()),
        sha256: file
            .file_sha256()
            .filter(|s| !s.is_empty())
            .map(hex::encode),
        caption: caption
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        file_name: file_name.map(str::to_string),
        download,
        remote: None,
        fetch: false,
        view_once: false,
    }
}

/// The text (or a placeholder such as `[image] caption`) and context of a message.
fn body(m: &wa::Message) -> Option<Body<'_>> {
    let tagged = |tag: &str, text: Option<&str>| match text.map(str::trim).filter(|t| !t.is_empty())
    {
        Some(text) => format!("[{tag}] {text}"),
        None => format!("[{tag}]"),
    };
    let (kind, content, context): (MessageKind, String, Option<&wa::ContextInfo>) =
        if let Some(r) = m.reaction_message.as_option() {
            let target = r.key.as_option().and_then(|k| k.id.clone());
            // An empty reaction takes the sender's earlier one back.
            let text = r.text.clone().unwrap_or_default();
            return Some(Body {
                kind: if text.is_empty() {
                    MessageKind::ReactionRemoved
                } else {
                    MessageKind::Reaction
                },
                content: text,
                context: None,
                quoted: target,
            });
        } else if let Some(text) = m.conversation.as_deref().filter(|t| !t.is_empty()) {
            (MessageKind::Text, text.to_string(), None)
        } else if let Some(x) = m.extended_text_message.as_option() {
            (
                MessageKind::Text,
                x.text.clone().unwrap_or_default(),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.image_message.as_option() {
            (
                MessageKind::Image,
                tagged("image", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.video_message.as_option() {
            (
                MessageKind::Video,
                tagged("video", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.ptv_message.as_option() {
            (
                MessageKind::Video,
                tagged("video note", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.document_message.as_option() {
            let name = x
                .file_name
                .as_deref()
                .or(x.title.as_deref())
                .unwrap_or("file");
            let caption = x
                .caption
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            (
                MessageKind::Document,
                format!("[document: {name}]{caption}"),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.audio_message.as_option() {
            let tag = if x.ptt == Some(true) {
                "voice note"
            } else {
                "audio"
            };
            (
                MessageKind::Audio,
                tagged(tag, None),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.sticker_message.as_option() {
            (
                MessageKind::Sticker,
                tagged("sticker", None),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.location_message.as_option() {
            let place = [x.name.as_deref(), x.address.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let at = format!(
                "{place} ({:.5}, {:.5})",
                x.degrees_latitude.unwrap_or_default(),
                x.degrees_longitude.unwrap_or_default()
            );
            (
                MessageKind::Location,
                tagged("location", Some(&at)),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.live_location_message.as_option() {
            (
                MessageKind::Location,
                tagged("live location", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.contact_message.as_option() {
            (
                MessageKind::Contact,
                tagged("contact", x.display_name.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.contacts_array_message.as_option() {
            (
                MessageKind::Contact,
                tagged("contacts", x.display_name.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = polls(m) {
            let options: Vec<&str> = x
                .options
                .iter()
                .filter_map(|o| o.option_name.as_deref())
                .collect();
            let question = x.name.as_deref().unwrap_or_default();
            (
                MessageKind::Poll,
                format!("[poll] {question}: {}", options.join(" / ")),
                x.context_info.as_option(),
            )
        } else if let Some((content, context)) = response(m) {
            (MessageKind::Response, content, context)
        } else if let Some(x) = m.call_log_messsage.as_option() {
            let kind = if x.is_video == Some(true) {
                "video call"
            } else {
                "voice call"
            };
            let outcome = x
                .call_outcome
                .map(|o| format!(", {}", format!("{o:?}").to_lowercase().replace('_', " ")))
                .unwrap_or_default();
            let length = x
                .duration_secs
                .and_then(|d| u64::try_from(d).ok())
                .filter(|d| *d > 0)
                .map(|d| format!(", {}", duration(d)))
                .unwrap_or_default();
            (
                MessageKind::Call,
                format!("[{kind}{outcome}{length}]"),
                None,
            )
        } else if let Some(x) = m.event_message.as_option() {
            let when = x
                .start_time
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            let cancelled = if x.is_canceled == Some(true) {
                " cancelled"
            } else {
                ""
            };
            let description = x
                .description
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            (
                MessageKind::Event,
                format!(
                    "[event{cancelled}] {}{when}{description}",
                    x.name.as_deref().unwrap_or_default()
                ),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.group_invite_message.as_option() {
            let caption = x
                .caption
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            (
                MessageKind::GroupInvite,
                format!(
                    "[group invite] {}{caption}",
                    x.group_name.as_deref().unwrap_or("a group")
                ),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.album_message.as_option() {
            // The header of an album; its items arrive as messages of their own.
            let images = x.expected_image_count.unwrap_or_default();
            let videos = x.expected_video_count.unwrap_or_default();
            (
                MessageKind::Album,
                format!("[album: {images} images, {videos} videos]"),
                x.context_info.as_option(),
            )
        } else {
            return None;
        };
    let quoted = context.and_then(|c| c.stanza_id.clone());
    Some(Body {
        kind,
        content,
        context,
        quoted,
    })
}

/// The chosen text of a reply to buttons, a list, a template or an interactive message.
fn response(m: &wa::Message) -> Option<(String, Option<&wa::ContextInfo>)> {
    let chosen = |texts: &[Option<&str>]| {
        texts
            .iter()
            .flatten()
            .map(|t| t.trim())
            .find(|t| !t.is_empty())
            .map(str::to_string)
    };
    if let Some(x) = m.buttons_response_message.as_option() {
        let shown = x.response.as_ref().map(|r| match r {
            wa::__buffa::oneof::message::buttons_response_message::Response::SelectedDisplayText(t) => t.as_str(),
        });
        return Some((
            chosen(&[shown, x.selected_button_id.as_deref()]).unwrap_or_default(),
            x.context_info.as_option(),
        ));
    }
    if let Some(x) = m.list_response_message.as_option() {
        let row = x
            .single_select_reply
            .as_option()
            .and_then(|r| r.selected_row_id.as_deref());
        return Some((
            chosen(&[x.title.as_deref(), row]).unwrap_or_default(),
            x.context_info.as_option(),
        ));
    }
    if let Some(x) = m.template_button_reply_message.as_option() {
        return Some((
            chosen(&[x.selected_display_text.as_deref(), x.selected_id.as_deref()])
                .unwrap_or_default(),
            x.context_info.as_option(),
        ));
    }
    if let Some(x) = m.interactive_response_message.as_option() {
        let body = x.body.as_option().and_then(|b| b.text.as_deref());
        let flow = x.interactive_response_message.as_ref().map(|r| match r {
            wa::__buffa::oneof::message::interactive_response_message::InteractiveResponseMessage::NativeFlowResponseMessage(f) => f,
        });
        let params = flow.and_then(|f| f.params_json.as_deref());
        let name = flow.and_then(|f| f.name.as_deref());
        return Some((
            chosen(&[body, params, name]).unwrap_or_default(),
            x.context_info.as_option(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testing::{ALICE, GROUP, info};

    const AT: i64 = 1_700_000_000;

    fn dm() -> MessageInfo {
        info(ALICE, "15550001111:3@s.whatsapp.net", false)
    }

    fn stored(info: &MessageInfo, message: wa::Message) -> NewMessage {
        match convert(info, &message) {
            Inbound::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// (type, content) of a direct message.
    fn seen(message: wa::Message) -> (String, String) {
        let m = stored(&dm(), message);
        (m.message_type.to_string(), m.content)
    }

    fn key(id: &str) -> MessageField<wa::MessageKey> {
        MessageField::some(wa::MessageKey {
            remote_jid: Some(ALICE.into()),
            from_me: Some(false),
            id: Some(id.into()),
            participant: None,
        })
    }

    #[test]
    fn plain_text_keeps_identity_and_drops_the_device_suffix() {
        let m = stored(&dm(), wa::Message::text("What is Spark?"));
        assert_eq!(m.chat_jid, ALICE);
        assert_eq!(m.sender, ALICE);
        assert_eq!(m.id, "3EB0ABC");
        assert_eq!(m.content, "What is Spark?");
        assert_eq!(m.timestamp_ms, AT * 1000);
        assert_eq!(m.push_name.as_deref(), Some("Alice"));
        assert_eq!(m.origin, Origin::Live);
        assert!(!m.is_from_me);
    }

    #[test]
    fn extended_text_with_a_quote() {
        let ctx = wa::ContextInfo {
            stanza_id: Some("3EB0ORIG".into()),
            participant: Some(ALICE.into()),
            quoted_message: MessageField::some(wa::Message::text("orig")),
            ..Default::default()
        };
        let m = stored(&dm(), wa::Message::text_with_context("a reply", ctx));
        assert_eq!(
            (m.content.as_str(), m.quoted_id.as_deref()),
            ("a reply", Some("3EB0ORIG"))
        );
    }

    #[test]
    fn image_and_video_captions() {
        let image = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: Some("the menu".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(seen(image), ("image".into(), "[image] the menu".into()));
        let video = wa::Message {
            video_message: MessageField::some(wa::message::VideoMessage::default()),
            ..Default::default()
        };
        assert_eq!(seen(video), ("video".into(), "[video]".into()));
    }

    #[test]
    fn document_with_name_and_caption() {
        let doc = wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                file_name: Some("plan.pdf".into()),
                caption: Some("for Saturday".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            seen(doc),
            (
                "document".into(),
                "[document: plan.pdf] for Saturday".into()
            )
        );
    }

    #[test]
    fn voice_notes_audio_and_stickers_get_placeholders() {
        let voice = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage {
                ptt: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(seen(voice), ("audio".into(), "[voice note]".into()));
        let sticker = wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage::default()),
            ..Default::default()
        };
        assert_eq!(seen(sticker), ("sticker".into(), "[sticker]".into()));
    }

    #[test]
    fn location_and_contact() {
        let location = wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(52.52),
                degrees_longitude: Some(13.405),
                name: Some("Alexanderplatz".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            seen(location),
            (
                "location".into(),
                "[location] Alexanderplatz (52.52000, 13.40500)".into()
            )
        );
        let contact = wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some("Bob".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(seen(contact), ("contact".into(), "[contact] Bob".into()));
    }

    #[test]
    fn ephemeral_and_view_once_wrappers_are_unwrapped() {
        let wrap = |inner: wa::Message| wa::message::FutureProofMessage {
            message: MessageField::some(inner),
        };
        let ephemeral = wa::Message {
            ephemeral_message: MessageField::some(wrap(wa::Message::text("vanishing"))),
            ..Default::default()
        };
        assert_eq!(seen(ephemeral).1, "vanishing");
        let image = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: Some("once".into()),
                view_once: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let view_once = wa::Message {
            view_once_message_v2: MessageField::some(wrap(image)),
            ..Default::default()
        };
        assert_eq!(
            seen(view_once.clone()),
            ("image".into(), "[image] once".into())
        );
        let once = |m: wa::Message| stored(&dm(), m).media.map(|media| media.view_once);
        assert_eq!(once(view_once), Some(true), "a view-once wrapper");
        let plain = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage::default()),
            ..Default::default()
        };
        assert_eq!(once(plain), Some(false));
    }

    #[test]
    fn a_group_message_with_a_mention() {
        let ctx = wa::ContextInfo {
            mentioned_jid: vec!["15550009999@s.whatsapp.net".into()],
            ..Default::default()
        };
        let info = info(GROUP, "15550002222:5@s.whatsapp.net", false);
        let m = stored(
            &info,
            wa::Message::text_with_context("@15550009999 dinner?", ctx),
        );
        assert_eq!(m.chat_jid, GROUP);
        assert_eq!(m.sender, "15550002222@s.whatsapp.net");
        assert_eq!(m.mentions, ["15550009999@s.whatsapp.net"]);
    }

    #[test]
    fn an_edit_of_a_stored_message() {
        let edit = wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                key: key("3EB0ORIG"),
                r#type: Some(wa::message::protocol_message::Type::MESSAGE_EDIT),
                edited_message: MessageField::some(wa::Message::text("fixed typo")),
                timestamp_ms: Some(1_700_000_123_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            convert(&dm(), &edit),
            Inbound::Edit {
                chat_jid: ALICE.into(),
                id: "3EB0ORIG".into(),
                content: "fixed typo".into(),
                by: ALICE.into(),
                at: 1_700_000_123_000
            }
        );
    }

    #[test]
    fn a_revoke() {
        let revoke = wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                key: key("3EB0ORIG"),
                r#type: Some(wa::message::protocol_message::Type::REVOKE),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            convert(&dm(), &revoke),
            Inbound::Revoke {
                chat_jid: ALICE.into(),
                id: "3EB0ORIG".into(),
                by: ALICE.into(),
                at: AT * 1000
            }
        );
    }

    #[test]
    fn reactions_are_stored_as_reactions() {
        let react = wa::Message {
            reaction_message: MessageField::some(wa::message::ReactionMessage {
                key: key("3EB0ORIG"),
                text: Some("👍".into()),
                sender_timestamp_ms: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = stored(&dm(), react);
        assert_eq!(
            (m.message_type.as_str(), m.content.as_str()),
            ("reaction", "👍")
        );
        assert_eq!(m.quoted_id.as_deref(), Some("3EB0ORIG"));
    }

    #[test]
    fn protocol_and_key_only_messages_are_skipped() {
        let key_share = wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            convert(&dm(), &key_share),
            Inbound::Skip("protocol message")
        );
        let keys = wa::Message {
            sender_key_distribution_message: MessageField::some(Default::default()),
            ..Default::default()
        };
        assert_eq!(
            convert(&dm(), &keys),
            Inbound::Skip("key distribution only")
        );
        // An empty message is content the schema does not know: kept (issue 29).
        assert!(matches!(
            convert(&dm(), &wa::Message::default()),
            Inbound::Message(m) if m.message_type == MessageKind::Unsupported
        ));
    }

    #[test]
    fn status_updates_are_skipped() {
        let status = info("status@broadcast", "15550001111@s.whatsapp.net", false);
        assert_eq!(
            convert(&status, &wa::Message::text("my day")),
            Inbound::Skip("status or broadcast")
        );
    }

    #[test]
    fn own_messages_from_the_phone_are_outbound() {
        let mine = info(ALICE, "15550009999:0@s.whatsapp.net", true);
        let m = stored(&mine, wa::Message::text("sent from my phone"));
        assert!(m.is_from_me);
        assert_eq!(m.sender, "15550009999@s.whatsapp.net");
    }

    #[test]
    fn a_lid_sender_with_its_phone_number_gives_a_mapping() {
        let mut from_lid = info("987654321012345@lid", "987654321012345:2@lid", false);
        from_lid.source.sender_alt = Some("15550001111@s.whatsapp.net".parse().unwrap());
        assert_eq!(
            lid_mappings(&from_lid),
            vec![("987654321012345@lid".to_string(), ALICE.to_string())]
        );
        assert!(lid_mappings(&dm()).is_empty());
        let m = stored(&from_lid, wa::Message::text("hi"));
        assert_eq!(
            m.chat_jid, "987654321012345@lid",
            "the store resolves it with the mapping"
        );
    }

    #[test]
    fn polls_show_question_and_options() {
        let poll = wa::Message {
            poll_creation_message_v3: MessageField::some(wa::message::PollCreationMessage {
                name: Some("Where?".into()),
                options: vec![
                    wa::message::poll_creation_message::Option {
                        option_name: Some("Park".into()),
                        ..Default::default()
                    },
                    wa::message::poll_creation_message::Option {
                        option_name: Some("Beach".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            seen(poll),
            ("poll".into(), "[poll] Where?: Park / Beach".into())
        );
    }

    #[test]
    fn converted_messages_pass_store_validation() {
        let m = stored(&dm(), wa::Message::text("x"));
        assert!(m.validated(AT * 1000).is_ok());
    }

    #[test]
    fn every_media_kind_carries_its_attachment() {
        let sha = vec![0xab; 32];
        let image = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/jpeg".into()),
                caption: Some(" the menu ".into()),
                file_length: Some(2048),
                file_sha256: Some(sha.clone()),
                file_enc_sha256: Some(vec![0xcd; 32]),
                media_key: Some(vec![7; 32]),
                direct_path: Some("/v/t62.7118-24/abc".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let media = stored(&dm(), image).media.expect("an image has media");
        assert_eq!(media.kind, "image");
        assert_eq!(media.mimetype.as_deref(), Some("image/jpeg"));
        assert_eq!(media.size_bytes, Some(2048));
        assert_eq!(media.sha256, Some("ab".repeat(32)));
        assert_eq!(media.caption.as_deref(), Some("the menu"));
        let download = media.download.expect("the CDN keys are kept");
        assert_eq!(download.media_key, "07".repeat(32));
        assert_eq!(download.file_length, 2048);

        let cases: Vec<(wa::Message, &str, Option<&str>)> = vec![
            (
                wa::Message {
                    video_message: MessageField::some(wa::message::VideoMessage {
                        mimetype: Some("video/mp4".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "video",
                None,
            ),
            (
                wa::Message {
                    ptv_message: MessageField::some(wa::message::VideoMessage::default()),
                    ..Default::default()
                },
                "video",
                None,
            ),
            (
                wa::Message {
                    document_message: MessageField::some(wa::message::DocumentMessage {
                        file_name: Some("report.pdf".into()),
                        mimetype: Some("application/pdf".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "document",
                Some("report.pdf"),
            ),
            (
                wa::Message {
                    audio_message: MessageField::some(wa::message::AudioMessage {
                        ptt: Some(true),
                        mimetype: Some("audio/ogg; codecs=opus".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "audio",
                None,
            ),
            (
                wa::Message {
                    sticker_message: MessageField::some(wa::message::StickerMessage::default()),
                    ..Default::default()
                },
                "sticker",
                None,
            ),
        ];
        for (message, kind, file_name) in cases {
            let media = stored(&dm(), message).media.expect(kind);
            assert_eq!(media.kind, kind);
            assert_eq!(media.file_name.as_deref(), file_name);
            assert!(media.download.is_none(), "no keys, nothing to download");
            assert!(!media.fetch);
        }
        assert!(stored(&dm(), wa::Message::text("no file")).media.is_none());
    }
}
