//! WhatsApp events → wabot's domain records. Pure functions over the library's real
//! message values, so every kind of message is tested without a server.

use whatsapp_rust::prelude::*;
use whatsapp_rust::wacore::download::Downloadable;
use whatsapp_rust::wacore_binary::JidExt;

use crate::media::{DownloadRef, Media};
use crate::message::{NewMessage, Origin};

/// What one incoming WhatsApp message means for the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(NewMessage),
    /// The sender edited a message we may have stored.
    Edit {
        chat_jid: String,
        id: String,
        content: String,
        at: i64,
    },
    /// The sender deleted a message for everyone.
    Revoke {
        chat_jid: String,
        id: String,
        at: i64,
    },
    /// Nothing to store (protocol traffic, status updates, …), with the reason.
    Skip(&'static str),
}

pub fn convert(info: &MessageInfo, message: &wa::Message) -> Inbound {
    let chat = &info.source.chat;
    if chat.is_status_broadcast() || chat.is_broadcast_list() {
        return Inbound::Skip("status or broadcast");
    }
    if chat.is_newsletter() {
        return Inbound::Skip("newsletter");
    }
    let base = message.get_base_message();
    let chat_jid = chat.to_non_ad_string();
    let at = info.timestamp.timestamp_millis();
    if let Some(protocol) = base.protocol_message.as_option() {
        use wa::message::protocol_message::Type;
        let target = protocol.key.as_option().and_then(|k| k.id.clone());
        return match (protocol.r#type, target) {
            (Some(Type::REVOKE), Some(id)) => Inbound::Revoke { chat_jid, id, at },
            (Some(Type::MESSAGE_EDIT), Some(id)) => {
                let content = protocol
                    .edited_message
                    .as_option()
                    .and_then(|m| m.text_content().or_else(|| m.get_caption()))
                    .unwrap_or_default()
                    .to_string();
                let at = protocol.timestamp_ms.unwrap_or(at);
                Inbound::Edit {
                    chat_jid,
                    id,
                    content,
                    at,
                }
            }
            _ => Inbound::Skip("protocol message"),
        };
    }
    let Some(body) = body(base) else {
        return Inbound::Skip("no content wabot understands");
    };
    Inbound::Message(NewMessage {
        chat_jid,
        id: info.id.clone(),
        sender: info.source.sender.to_non_ad_string(),
        content: body.content,
        timestamp_ms: at,
        is_from_me: info.source.is_from_me,
        message_type: body.kind.into(),
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        mentions: body
            .context
            .map(|c| c.mentioned_jid.clone())
            .unwrap_or_default(),
        quoted_id: body.quoted,
        origin: Origin::Live,
        media: attachment_of(base).map(Box::new),
    })
}

/// When the sender is known by both identities, the pair to remember: (LID, phone JID).
pub fn lid_mapping(info: &MessageInfo) -> Option<(String, String)> {
    let sender = &info.source.sender;
    let alt = info.source.sender_alt.as_ref()?;
    match (sender.is_lid(), alt.is_lid()) {
        (true, false) if alt.is_pn() => Some((sender.to_non_ad_string(), alt.to_non_ad_string())),
        (false, true) if sender.is_pn() => {
            Some((alt.to_non_ad_string(), sender.to_non_ad_string()))
        }
        _ => None,
    }
}

struct Body<'a> {
    kind: &'static str,
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
        fetch: false,
    }
}

/// The text (or a placeholder such as `[image] caption`) and context of a message.
fn body(m: &wa::Message) -> Option<Body<'_>> {
    let tagged = |tag: &str, text: Option<&str>| match text.map(str::trim).filter(|t| !t.is_empty())
    {
        Some(text) => format!("[{tag}] {text}"),
        None => format!("[{tag}]"),
    };
    let (kind, content, context): (&'static str, String, Option<&wa::ContextInfo>) =
        if let Some(r) = m.reaction_message.as_option() {
            let target = r.key.as_option().and_then(|k| k.id.clone());
            return Some(Body {
                kind: "reaction",
                content: r.text.clone().unwrap_or_default(),
                context: None,
                quoted: target,
            });
        } else if let Some(text) = m.conversation.as_deref().filter(|t| !t.is_empty()) {
            ("text", text.to_string(), None)
        } else if let Some(x) = m.extended_text_message.as_option() {
            (
                "text",
                x.text.clone().unwrap_or_default(),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.image_message.as_option() {
            (
                "image",
                tagged("image", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.video_message.as_option() {
            (
                "video",
                tagged("video", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.ptv_message.as_option() {
            (
                "video",
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
                "document",
                format!("[document: {name}]{caption}"),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.audio_message.as_option() {
            let tag = if x.ptt == Some(true) {
                "voice note"
            } else {
                "audio"
            };
            ("audio", tagged(tag, None), x.context_info.as_option())
        } else if let Some(x) = m.sticker_message.as_option() {
            (
                "sticker",
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
                "location",
                tagged("location", Some(&at)),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.live_location_message.as_option() {
            (
                "location",
                tagged("live location", x.caption.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.contact_message.as_option() {
            (
                "contact",
                tagged("contact", x.display_name.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = m.contacts_array_message.as_option() {
            (
                "contact",
                tagged("contacts", x.display_name.as_deref()),
                x.context_info.as_option(),
            )
        } else if let Some(x) = [
            &m.poll_creation_message,
            &m.poll_creation_message_v2,
            &m.poll_creation_message_v3,
        ]
        .into_iter()
        .find_map(|p| p.as_option())
        {
            let options: Vec<&str> = x
                .options
                .iter()
                .filter_map(|o| o.option_name.as_deref())
                .collect();
            let question = x.name.as_deref().unwrap_or_default();
            (
                "poll",
                format!("[poll] {question}: {}", options.join(" / ")),
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

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::message::MessageSource;

    use super::*;

    const ALICE: &str = "15550001111@s.whatsapp.net";
    const GROUP: &str = "120363041234567890@g.us";
    const AT: i64 = 1_700_000_000;

    fn info(chat: &str, sender: &str, from_me: bool) -> MessageInfo {
        MessageInfo {
            id: "3EB0ABC".into(),
            source: MessageSource {
                chat: chat.parse().unwrap(),
                sender: sender.parse().unwrap(),
                is_from_me: from_me,
                is_group: chat.ends_with("@g.us"),
                ..Default::default()
            },
            push_name: "Alice".into(),
            timestamp: chrono::DateTime::from_timestamp(AT, 0).unwrap(),
            ..Default::default()
        }
    }

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
        (m.message_type, m.content)
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
        assert_eq!(seen(view_once), ("image".into(), "[image] once".into()));
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
    fn protocol_and_empty_messages_are_skipped() {
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
        assert!(matches!(
            convert(&dm(), &wa::Message::default()),
            Inbound::Skip(_)
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
            lid_mapping(&from_lid),
            Some(("987654321012345@lid".into(), ALICE.into()))
        );
        assert_eq!(lid_mapping(&dm()), None);
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
