//! `wabot vitality`: the daily "alive" message to the account's own chat, with a health
//! line. Loud (stderr, exit 69) when the listener could not deliver it.

use std::time::Duration;

use anyhow::Result;

use super::{load_config, logged_job, open_db};
use crate::chats::Names;
use crate::cli::{Global, VitalityArgs};
use crate::config::{Config, Transport};
use crate::error;
use crate::jobs::vitality::{Report, confirm, queue};
use crate::output;

pub fn run(global: &Global, args: &VitalityArgs) -> Result<()> {
    let config = load_config(global)?;
    if args.print_cron {
        return output::line(cron_lines(&config, global));
    }
    if !config.file.vitality.enabled {
        let report = Report {
            queued: false,
            chat_jid: None,
            message_id: None,
            content: None,
            reason: Some("vitality.enabled is false".into()),
            canary: None,
        };
        return print(args, &report, None);
    }
    let own = config.self_jid().ok_or_else(|| {
        error::config("whatsapp.phone_number is needed: the vitality message goes to your own chat")
    })?;
    let mut db = open_db(&config)?;
    // The canary's receipt is the owner's phone answering the linked device; an official
    // API's number writing to itself proves nothing of the kind, so it waits only when
    // asked to.
    let linked = config.file.transport == Transport::WhatsappWeb;
    let wait = args.wait.unwrap_or(if linked {
        config.file.vitality.canary_seconds
    } else {
        0
    });
    let report = logged_job(
        &mut db,
        "vitality",
        |db| {
            let mut report = queue(db, &config, &own)?;
            if let (Some(id), true) = (&report.message_id, wait > 0) {
                report.canary = Some(confirm(db, id, Duration::from_secs(wait.into()))?);
            }
            Ok(report)
        },
        |r| serde_json::to_value(r).unwrap_or_default(),
    )?;
    print(args, &report, Some(&mut Names::new(&db, &config)))
}

fn print(args: &VitalityArgs, report: &Report, names: Option<&mut Names>) -> Result<()> {
    if args.output.json {
        return match names {
            Some(names) => output::print_json_named(report, names),
            None => output::print_json(report),
        };
    }
    if output::stdout_is_terminal() {
        match (&report.content, &report.reason) {
            (Some(content), None) => output::line(format_args!("queued:\n{content}"))?,
            (Some(_), Some(reason)) if report.canary.is_some() => {
                output::line(format_args!("{reason}"))?
            }
            (_, reason) => output::line(format_args!(
                "nothing queued: {}",
                reason.as_deref().unwrap_or("")
            ))?,
        }
        if let Some(canary) = report.canary {
            output::line(format_args!("canary: {}", canary.explain()))?;
        }
    }
    Ok(())
}

/// Crontab lines for the configured time, in the configured zone.
fn cron_lines(config: &Config, global: &Global) -> String {
    let v = &config.file.vitality;
    let zone = config.vitality_zone();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map_or_else(|| "wabot".into(), |p| p.display().to_string());
    let config_arg = config
        .config_path
        .as_ref()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| format!(" --config {}", p.display()))
        .unwrap_or_default();
    let db_arg = global
        .db
        .as_ref()
        .map(|p| format!(" --db {}", p.display()))
        .unwrap_or_default();
    format!(
        "CRON_TZ={}\n{} {} * * * {exe}{config_arg}{db_arg} vitality",
        zone.name(),
        v.time.minute,
        v.time.hour
    )
}
