//! `moadian resend TAXID…`: settle invoices that NEED ATTENTION — acknowledged by the server,
//! then answered NOT_FOUND past the grace period. Asks first (`--yes` or an interactive
//! "yes"), then asks the server once more — by the attempt's uid, its reference number and the
//! tax ID — and refuses when any answer shows the invoice exists. Only then is the invoice
//! queued again with the same tax ID and sent.

use super::submit::{exit_code, send_and_poll, Session, Target};
use super::Global;
use crate::api::{taxid_answer, InvoiceStatus as ApiStatus, TaxIdAnswer, MAX_INQUIRY_IDS};
use crate::lang::{Langs, Message};
use crate::pipeline;
use chrono::{Duration as ChronoDuration, Utc};
use moadian_queue::{AttemptStatus, InvoiceId, InvoiceStatus, RunnerStore, Store};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask: the answer is yes.
    #[arg(long)]
    pub yes: bool,
    /// How long to wait for final statuses after sending.
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    #[command(flatten)]
    pub pacing: super::pacing::PacingArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Tax IDs of invoices that need attention.
    #[arg(required = true, value_name = "TAXID")]
    pub taxids: Vec<String>,
}

fn text(lang: Langs, fa: String, en: String) -> String {
    lang.text(&Message::new(fa, en))
}

fn confirmed(args: &Args, lang: Langs) -> anyhow::Result<bool> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        crate::say_err!(
            "{}",
            text(
                lang,
                "برای ارسال دوباره تأیید لازم است: ‎--yes‎ را بدهید یا فرمان را در پایانه اجرا کنید."
                    .into(),
                "resending needs a confirmation: give --yes, or run the command in a terminal."
                    .into()
            )
        );
        return Ok(false);
    }
    crate::say_err_part!(
        "{}",
        text(
            lang,
            format!("{} صورتحساب با همان شماره مالیاتی دوباره فرستاده شود؟ (پس از استعلام) بنویسید yes: ", args.taxids.len()),
            format!("send {} invoice(s) again with the same tax ID (after one more inquiry)? type yes: ", args.taxids.len())
        )
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().eq_ignore_ascii_case("yes") || line.trim() == "بله")
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let lang = global.lang;
    let mut session = Session::open(&args.target).await?;
    session.apply_pacing(&args.pacing)?;
    let queue = session.open_queue()?;
    // Only invoices that are acknowledged and answered NOT_FOUND may be resent.
    let mut targets = Vec::new();
    for t in &args.taxids {
        let inv = queue.find_by_taxid(t)?.ok_or_else(|| {
            anyhow::anyhow!(
                "tax ID {t} is not in the queue {} / شماره مالیاتی {t} در صف نیست",
                super::session::shown(&session.queue_path)
            )
        })?;
        let attempt = queue.attempts(inv.id)?.pop();
        let ok = inv.status == InvoiceStatus::InProgress
            && attempt.as_ref().is_some_and(|a| {
                a.status == AttemptStatus::InProgress
                    && a.server_status.as_deref() == Some("NOT_FOUND")
            });
        match attempt {
            Some(a) if ok => targets.push((t.clone(), inv.id, a)),
            _ => anyhow::bail!(
                "tax ID {t} is {}, not an acknowledged invoice the server answers NOT_FOUND for; nothing to resend (see `moadian status`) / شماره مالیاتی {t} در وضعیت {} است و نیازی به ارسال دوباره ندارد",
                inv.status,
                inv.status
            ),
        }
    }
    if !confirmed(&args, lang)? {
        return Ok(1);
    }
    let runner =
        Arc::new(queue.acquire_runner_for(std::slice::from_ref(&session.profile.memory_id))?);
    let (_signer, client) = match session.connect_checked().await? {
        Ok(sc) => sc,
        Err(f) => {
            crate::say_err!("{}", lang.text(&f.message));
            return Ok(if f.outage {
                super::submit::EXIT_UNREACHABLE
            } else {
                1
            });
        }
    };
    // One more inquiry: by uid, by reference number and by tax ID.
    let end = Utc::now() + ChronoDuration::minutes(5);
    let mut found: Vec<String> = Vec::new();
    let mut unsure: Vec<String> = Vec::new();
    for chunk in targets.chunks(MAX_INQUIRY_IDS) {
        let oldest = chunk
            .iter()
            .map(|(_, _, a)| a.created_at)
            .min()
            .unwrap_or(0);
        let start = chrono::DateTime::<Utc>::from_timestamp_millis(oldest).unwrap_or_else(Utc::now)
            - ChronoDuration::minutes(10);
        let start = start.max(end - ChronoDuration::days(7) + ChronoDuration::minutes(1));
        let uids: Vec<String> = chunk.iter().map(|(_, _, a)| a.uid.to_string()).collect();
        let refs: Vec<String> = chunk
            .iter()
            .filter_map(|(_, _, a)| a.reference.clone())
            .collect();
        let taxids: Vec<String> = chunk.iter().map(|(t, _, _)| t.clone()).collect();
        let mut results = client
            .inquiry_by_uid(&uids, client.memory_id(), start, end)
            .await?;
        if !refs.is_empty() {
            results.extend(client.inquiry_by_reference(&refs, start, end).await?);
        }
        for r in &results {
            if !matches!(r.status, ApiStatus::NotFound) {
                let who = r
                    .uid
                    .clone()
                    .or_else(|| r.reference_number.clone())
                    .unwrap_or_default();
                found.push(format!("{who}: {:?}", r.status));
            }
        }
        let answers = client.inquiry_invoice_status(&taxids).await?;
        for t in &taxids {
            match taxid_answer(&answers, t) {
                TaxIdAnswer::Held(status) => found.push(format!("{t}: {status}")),
                TaxIdAnswer::NotFound => {}
                TaxIdAnswer::Unknown(why) => unsure.push(format!("{t} ({why})")),
            }
        }
    }
    // A server that will not say whether it holds a tax ID (ACCESS_DENIED…) may hold it:
    // sending it again could register it twice.
    let refusal = if !found.is_empty() {
        Some((
            format!("ارسال دوباره انجام نشد: سامانه این صورتحساب(ها) را دارد: {}. `moadian run` وضعیت را پیگیری می‌کند.", found.join("; ")),
            format!("not resent: the server has these invoice(s): {}. `moadian run` follows them up.", found.join("; ")),
        ))
    } else if !unsure.is_empty() {
        Some((
            format!("ارسال دوباره انجام نشد: سامانه نگفت این شماره(های) مالیاتی را دارد یا نه: {}. ارسال دوباره ممکن است آن را دو بار ثبت کند؛ در کارپوشه بررسی کنید و اگر نیست، دوباره `moadian resend` را اجرا کنید.", unsure.join("; ")),
            format!("not resent: the server would not say whether it holds these tax ID(s): {}. Sending again could register one twice; check in the portal (کارپوشه), and run `moadian resend` again once it answers.", unsure.join("; ")),
        ))
    } else {
        None
    };
    if let Some((fa, en)) = refusal {
        crate::say_err!("{}", text(lang, fa, en));
        return Ok(1);
    }
    let mut ids: Vec<InvoiceId> = Vec::new();
    for (t, id, a) in targets {
        let detail = serde_json::json!({
            "reason": "resend asked by the user: acknowledged, then NOT_FOUND by uid, reference and tax ID",
            "reference": a.reference,
            "taxid": t,
        });
        let r = runner.clone();
        tokio::task::spawn_blocking(move || {
            r.requeue_not_registered(a.uid, AttemptStatus::Lost, None, &detail)
        })
        .await??;
        ids.push(id);
    }
    let progress = super::progress::Progress::new(!args.json, lang);
    let stopped = send_and_poll(&session, runner.clone(), args.wait, &progress).await?;
    progress.finish();
    let report = pipeline::report::build(&runner.queue(), Some(ids), None)?;
    let message = stopped.as_ref().map(|s| &s.message);
    super::status::print_report(&report, &[], message, args.json, true, lang)?;
    Ok(exit_code(&report.summary, 0, stopped.as_ref()))
}
