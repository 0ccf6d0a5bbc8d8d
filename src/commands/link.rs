//! `wabot pair` and `wabot listen`: the commands that hold the WhatsApp connection.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use super::load_config;
use crate::cli::{Global, PairArgs};
use crate::config::{Config, Source, Transport};
use crate::error::{self, Kind};
use crate::pipeline::linked::{self as listener, connect, sink::DbSink};
use crate::whatsapp::{device, pair as pairing};
use crate::{jid, lock, output};

pub fn pair(global: &Global, args: &PairArgs) -> Result<()> {
    let config = load_config(global)?;
    super::linked_device_only(&config, "pair")?;
    let phone = match &args.phone {
        Some(number) => Some(phone_digits(number)?),
        None => None,
    };
    let _lock = lock::acquire(&config.database_path)?;
    let store = config.device_store_path();
    if let Some(account) = device::paired_as(&store)? {
        if !args.force {
            return output::line(format_args!(
                "already linked as {} (wabot pair --force links again)",
                device::display_number(&account)
            ));
        }
        if !args.yes {
            output::confirm(
                &format!(
                    "Discard the link to {} and pair again?",
                    device::display_number(&account)
                ),
                "pass --yes to discard the current link when not running interactively",
            )?;
        }
        device::remove(&store)?;
    }
    let options = pairing::Options {
        phone,
        connect_timeout: Duration::from_secs(args.timeout),
        full_history: args.full_history,
    };
    let db = crate::db::Db::open(&config.database_path)?;
    let version = connect::client_version(&db)?;
    let policy = std::sync::Arc::new(std::sync::RwLock::new(crate::policy::Policy::new(&config)));
    // Pairing sends nothing; a late receipt of an earlier send is stored under the
    // configured number, the only one known before the link.
    let own = config.self_jid().unwrap_or_default();
    let sink = DbSink::new(db, policy, own, None);
    crate::files::create_private(&store)?;
    let account = pairing::run(&config, version, &options, std::sync::Arc::new(sink), &show)?;
    output::line(format_args!(
        "linked as {}",
        device::display_number(&account)
    ))
}

fn show(prompt: pairing::Prompt) {
    match prompt {
        pairing::Prompt::Qr { art, valid_for } => {
            // A closed stdout must not end the pairing: the prompt is best effort.
            let _ = output::line(format_args!(
                "\n{art}\nScan with WhatsApp on your phone: Settings → Linked devices → Link a device \
                 (this code is valid for {} s)",
                valid_for.as_secs()
            ));
        }
        pairing::Prompt::History { messages, percent } => {
            let percent = percent.map(|p| format!(" ({p}%)")).unwrap_or_default();
            eprint!("\rreceiving chat history from the phone: {messages} messages{percent}   ");
        }
        pairing::Prompt::Code(code) => {
            let (a, b) = code.split_at(code.len().min(4));
            let _ = output::line(format_args!(
                "\nOn your phone: WhatsApp → Settings → Linked devices → Link a device → \
                 Link with phone number instead, and enter:\n\n    {a}-{b}\n"
            ));
        }
    }
    let _ = std::io::stdout().flush();
}

/// The digits WhatsApp wants for a pair code: country code and number, nothing else.
fn phone_digits(number: &str) -> Result<String> {
    let jid =
        jid::normalize(number).map_err(|e| error::failure(Kind::Usage, format!("--phone: {e}")))?;
    jid::phone(&jid).map(str::to_string).ok_or_else(|| {
        error::failure(
            Kind::Usage,
            format!("--phone: {number:?} is not a phone number"),
        )
    })
}

pub fn listen(global: &Global) -> Result<()> {
    let config: Config = load_config(global)?;
    let source = Source {
        config: global.config.clone(),
        db: global.db.clone(),
    };
    match config.file.transport {
        Transport::WhatsappWeb => listener::run(config, move || crate::config::load(&source)),
        Transport::Twilio | Transport::CloudApi => {
            crate::webhook::listen::run(config, move || crate::config::load(&source))
        }
    }
}
