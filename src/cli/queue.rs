//! `moadian queue backup FILE` and `moadian queue check`: a consistent copy of the queue file
//! (SQLite's online backup API, safe while a runner sends) and a look at its health (integrity,
//! schema version, serial prefix, invoices per status, state-machine check); and
//! `moadian queue copy --from FILE --to postgres://…`, a queue file moved into a PostgreSQL
//! queue (see `moadian_queue::postgres::copy`).

use super::submit::{Session, Target};
use super::Global;
use crate::lang::{Langs, Message};
use moadian_queue::{InvoiceStatus, SqliteQueue};
use std::path::PathBuf;

/// `moadian queue [--queue FILE | --profile NAME | --sandbox] backup FILE` / `… check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Copy the queue to FILE (a new file), consistent even while `run` sends. Keep it with
    /// your backups: restored, it never makes the tool send an accepted invoice twice.
    Backup {
        /// Where to write the copy (must not exist yet).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Move a queue file into a PostgreSQL queue without loss (invoices, attempts, events,
    /// serial counters), in one transaction; refused, with nothing written, when the target
    /// already holds one of its tax IDs. Stop `run` on the file first.
    Copy {
        /// The queue file to copy.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The PostgreSQL queue: postgres://USER@HOST/DB (password from PGPASSWORD or
        /// ~/.pgpass; in the URL it works too but is never shown).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Check the queue file: integrity, schema version, counts per status.
    Check {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The queue file a target names, without starting the sandbox or creating anything.
async fn queue_path(t: &Target) -> anyhow::Result<PathBuf> {
    if let Some(q) = &t.queue {
        return Ok(q.clone());
    }
    if t.sandbox {
        return Ok(crate::config::sandbox_dir().join("queue.sqlite"));
    }
    Ok(Session::open(t).await?.queue_path)
}

fn open(path: &PathBuf, lang: Langs) -> anyhow::Result<SqliteQueue> {
    if super::session::is_postgres(path) {
        anyhow::bail!(
            "{} is a PostgreSQL queue: `queue backup` and `queue check` are for queue files; back it up with pg_dump / {} صف PostgreSQL است: پشتیبان آن را با pg_dump بگیرید",
            super::session::shown(path),
            super::session::shown(path)
        );
    }
    if !path.exists() {
        anyhow::bail!(
            "the queue {} does not exist / صف {} وجود ندارد",
            path.display(),
            path.display()
        );
    }
    SqliteQueue::open_read_only(path)
        .map_err(|e| anyhow::anyhow!(lang.text(&Message::new(e.persian(), e.to_string()))))
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    match args.action {
        Action::Copy { from, to } => copy(&from, &to, lang),
        Action::Backup { file } => {
            let path = queue_path(&args.target).await?;
            let queue = open(&path, lang)?;
            queue.backup_to(&file).map_err(|e| {
                anyhow::anyhow!(
                    "backup of {} to {} failed: {e} / پشتیبان‌گیری ناموفق بود: {}",
                    path.display(),
                    file.display(),
                    e.persian()
                )
            })?;
            let s = moadian_queue::Store::summary(&queue)?;
            println!(
                "{}",
                lang.text(&Message::new(
                    format!(
                        "نسخهٔ پشتیبان صف {} در {} نوشته شد ({} صورتحساب)",
                        path.display(),
                        file.display(),
                        s.total
                    ),
                    format!(
                        "backed up {} to {} ({} invoice{})",
                        path.display(),
                        file.display(),
                        s.total,
                        super::plural(s.total)
                    ),
                ))
            );
            Ok(0)
        }
        Action::Check { json } => {
            let path = queue_path(&args.target).await?;
            let queue = open(&path, lang)?;
            let c = queue.check()?;
            if json {
                let mut v = serde_json::to_value(&c)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("ok".into(), c.ok().into());
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                // SENDING is the queue's own word; `status` shows those invoices as UNKNOWN
                // (a send began, no answer recorded), and the check says so.
                let counts = |fa: bool| -> Vec<String> {
                    InvoiceStatus::ALL
                        .iter()
                        .map(|s| {
                            let n = c.summary.get(*s);
                            match (s, n, fa) {
                                (InvoiceStatus::Sending, 1.., false) => format!(
                                    "{n} SENDING (UNKNOWN in `status`: a send began, no answer recorded)"
                                ),
                                (InvoiceStatus::Sending, 1.., true) => format!(
                                    "{n} SENDING (در `status`: UNKNOWN؛ ارسالی آغاز شد و پاسخی ثبت نشد)"
                                ),
                                _ => format!("{n} {}", s.as_str()),
                            }
                        })
                        .collect()
                };
                let prefix = c
                    .serial_prefix
                    .map(|p| format!("{p:05X}"))
                    .unwrap_or_else(|| "—".into());
                let (fa, en) = (
                    format!(
                        "صف {}\nسلامت فایل: {}\nنسخهٔ ساختار: {} از {}\nپیشوند سریال: {prefix}\n{} صورتحساب: {}\nمشکلات: {}",
                        c.path.display(),
                        c.integrity.join("; "),
                        c.schema_version,
                        c.latest_version,
                        c.summary.total,
                        counts(true).join("، "),
                        if c.problems.is_empty() { "ندارد".to_string() } else { c.problems.join("\n  ") }
                    ),
                    format!(
                        "queue {}\nintegrity: {}\nschema version: {} of {}\nserial prefix: {prefix}\n{} invoice{}: {}\nproblems: {}",
                        c.path.display(),
                        c.integrity.join("; "),
                        c.schema_version,
                        c.latest_version,
                        c.summary.total,
                        super::plural(c.summary.total),
                        counts(false).join(", "),
                        if c.problems.is_empty() { "none".to_string() } else { c.problems.join("\n  ") }
                    ),
                );
                println!("{}", lang.text(&Message::new(fa, en)));
            }
            Ok(u8::from(!c.ok()))
        }
    }
}

/// `moadian queue copy --from FILE --to postgres://…`.
fn copy(from: &std::path::Path, to: &str, lang: Langs) -> anyhow::Result<u8> {
    let shown_to = moadian_queue::postgres::redact(to);
    if !moadian_queue::postgres::is_url(to) {
        anyhow::bail!(
            "--to must be a PostgreSQL URL (postgres://USER@HOST/DB), not {shown_to} / ‎--to‎ باید نشانی PostgreSQL باشد"
        );
    }
    if !from.is_file() {
        anyhow::bail!(
            "no queue file at {} / فایل صفی در {} نیست",
            from.display(),
            from.display()
        );
    }
    let fail = |e: moadian_queue::QueueError| {
        anyhow::anyhow!(lang.text(&Message::new(e.persian(), e.to_string())))
    };
    let report = tokio::task::block_in_place(|| {
        let target = moadian_queue::PgQueue::open(to).map_err(fail)?;
        moadian_queue::postgres::copy::copy_sqlite_to_postgres(from, &target).map_err(fail)
    })?;
    println!(
        "{}",
        lang.text(&Message::new(
            format!(
                "صف {} به {} منتقل شد: {} صورتحساب، {} ارسال، {} رویداد، شمارندهٔ سریال {} شناسهٔ حافظه",
                from.display(),
                shown_to,
                report.invoices,
                report.attempts,
                report.events,
                report.serial_counters
            ),
            format!(
                "copied {} to {}: {} invoice{}, {} attempt{}, {} event{}, the serial counter{} of {} memory ID{}",
                from.display(),
                shown_to,
                report.invoices,
                super::plural(report.invoices),
                report.attempts,
                super::plural(report.attempts),
                report.events,
                super::plural(report.events),
                super::plural(report.serial_counters),
                report.serial_counters,
                super::plural(report.serial_counters)
            ),
        ))
    );
    Ok(0)
}
