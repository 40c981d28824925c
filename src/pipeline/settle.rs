//! A duplicate refusal is checked before anything is marked FAILED: when the server answers
//! that a tax ID this queue sent is already taken (a queue restored from an old backup, a copy
//! that lost its WAL, a second machine), ask the server about that tax ID. If it is accepted
//! for this taxpayer, the invoice was registered already — by an earlier attempt the queue no
//! longer remembers — and is recorded SUCCESS (with a warning saying how it was settled), not
//! FAILED and never sent again. When the server answers that it has no such tax ID, its FAILED
//! stands. When it will not say (ACCESS_DENIED, no answer), the answer is not recorded at all:
//! a FAILED there would have the user issue the invoice again, perhaps a second registration.

use crate::api::{taxid_answer, Client, ServerCode, TaxIdAnswer, MAX_INQUIRY_IDS};
use crate::pipeline::PipelineError;
use moadian_queue::{Attempt, Outcome, ServerStatus};

/// The codes the tax system (and the sandbox) use to refuse a tax ID already accepted.
pub const DUPLICATE_CODES: &[&str] = &["0300101"];

fn is_duplicate_refusal(o: &Outcome) -> bool {
    o.status == ServerStatus::Failed
        && o.errors
            .as_ref()
            .and_then(|e| serde_json::from_value::<Vec<ServerCode>>(e.clone()).ok())
            .is_some_and(|codes| {
                codes
                    .iter()
                    .any(|c| DUPLICATE_CODES.contains(&c.code.as_str()))
            })
}

/// Turns the duplicate refusals among `outcomes` (answers for `attempts`) into SUCCESS where an
/// inquiry by tax ID shows the tax ID accepted for this taxpayer, and takes out those the
/// server would not answer for (nothing recorded; asked again next pass). Returns how many
/// were taken out.
pub async fn duplicates(
    client: &Client,
    attempts: &[Attempt],
    outcomes: &mut Vec<Outcome>,
) -> Result<usize, PipelineError> {
    let dup: Vec<(usize, String)> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| is_duplicate_refusal(o))
        .filter_map(|(i, o)| {
            let a = attempts.iter().find(|a| a.uid == o.uid)?;
            Some((i, a.taxid.clone()?))
        })
        .collect();
    let mut undecided: Vec<usize> = Vec::new();
    for chunk in dup.chunks(MAX_INQUIRY_IDS) {
        let taxids: Vec<String> = chunk.iter().map(|(_, t)| t.clone()).collect();
        let found = client
            .inquiry_invoice_status(&taxids)
            .await
            .map_err(PipelineError::Api)?;
        for (i, taxid) in chunk {
            match taxid_answer(&found, taxid) {
                TaxIdAnswer::Held(_) => {}
                TaxIdAnswer::NotFound => continue,
                TaxIdAnswer::Unknown(why) => {
                    tracing::warn!(
                        taxid = %taxid,
                        answer = %why,
                        "the server refuses this tax ID as already taken (0300101) but will not say whether it holds it for this taxpayer: nothing recorded, asked again next pass; check it in the portal (کارپوشه) and do not issue the invoice again / سامانه این شماره مالیاتی را تکراری می‌داند ولی نمی‌گوید آن را برای این مودی دارد یا نه: چیزی ثبت نشد و دور بعد دوباره پرسیده می‌شود؛ در کارپوشه بررسی کنید و صورتحساب را دوباره صادر نکنید"
                    );
                    undecided.push(*i);
                    continue;
                }
            }
            let o = &mut outcomes[*i];
            let mut warnings: Vec<ServerCode> = o
                .warnings
                .as_ref()
                .and_then(|w| serde_json::from_value(w.clone()).ok())
                .unwrap_or_default();
            warnings.push(ServerCode {
                code: DUPLICATE_CODES[0].into(),
                message: format!(
                    "the server already holds tax ID {taxid} (accepted for this taxpayer, by inquiry); this invoice was registered by an earlier send this queue does not remember, so it is recorded SUCCESS and not sent again. The server does not return content: if in doubt compare in the portal / شماره مالیاتی {taxid} پیش‌تر در سامانه پذیرفته شده است (طبق استعلام)؛ ارسال قبلی‌ای که صف به یاد ندارد آن را ثبت کرده، پس موفق ثبت شد و دوباره ارسال نمی‌شود. سامانه محتوا را برنمی‌گرداند: در صورت تردید در کارپوشه مقایسه کنید"
                ),
            });
            o.status = ServerStatus::Success;
            o.errors = None;
            o.warnings = serde_json::to_value(warnings).ok();
        }
    }
    let taken_out = undecided.len();
    undecided.sort_unstable();
    for i in undecided.into_iter().rev() {
        outcomes.remove(i);
    }
    Ok(taken_out)
}
