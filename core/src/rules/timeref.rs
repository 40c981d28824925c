//! Tax ID, time and referral rules (RC_IITP.IS_V7.8 جداول ۳، ۴، ۷، ۸، ۱۰، ۱۳; RC_DCPS.SN_V1.3;
//! invoice-schema.md §11–§13): the tax ID's check digit, memory-ID alphabet and day part;
//! `inno` against the tax ID's serial; issue time judged as of `ctx.at_ms`; customs and bourse
//! dates; and what can be checked offline of corrections, cancellations and returns.

use super::idcheck::{memory_id_allowed, taxid_check_digit, taxid_parts, taxid_valid};
use super::util::{hpath, Inv, Sink};
use super::Context;

const DAY_MS: i64 = 86_400_000;

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

fn is_taxid_shaped(t: &str) -> bool {
    t.len() == 22
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Tax ID, inno and time rules.
pub(crate) fn check(inv: &Inv, ctx: &Context, sink: &mut Sink) {
    let indatim = inv.hint("indatim");
    if let Some(t) = inv.hstr("taxid").filter(|t| is_taxid_shaped(t)) {
        taxid(inv, t, indatim, sink);
    }
    if let Some(ms) = inv.hint("indati2m") {
        created(ms, ctx, sink);
    }
    if let Some(ms) = indatim {
        time(ms, ctx, sink);
        customs_dates(inv, ms, ctx, sink);
    }
    referral(inv, indatim, sink);
}

fn taxid(inv: &Inv, t: &str, indatim: Option<i64>, sink: &mut Sink) {
    let memory = &t[..6];
    if !memory_id_allowed(memory) {
        sink.error(
            "taxid.memory_id",
            hpath("taxid"),
            Some("0300101".into()),
            format!("شناسه یکتای حافظه «{memory}» حروف غیرمجاز دارد (رقم ۰ و حروف I J L Q V مجاز نیستند)؛ شناسه حافظه را از کارپوشه بردارید."),
            format!("memory ID `{memory}` uses characters that are not allowed (0, I, J, L, Q, V); copy it from the taxpayer portal"),
        );
    }
    let Some(parts) = taxid_parts(t) else {
        sink.error(
            "taxid.check_digit",
            hpath("taxid"),
            Some("0300101".into()),
            format!("شماره مالیاتی «{t}» قابل رمزگشایی نیست: بخش تاریخ و سریال باید مبنای ۱۶ و رقم آخر رقم کنترلی باشد."),
            format!("tax ID `{t}` cannot be decoded: the date and serial parts must be hexadecimal and the last character a check digit"),
        );
        return;
    };
    let expected = taxid_check_digit(parts.memory_id, parts.day, parts.serial);
    if expected != Some(parts.check) {
        let e = expected
            .map(|e| e.to_string())
            .unwrap_or_else(|| "?".into());
        sink.error(
            "taxid.check_digit",
            hpath("taxid"),
            Some("0300101".into()),
            format!("رقم کنترلی شماره مالیاتی «{t}» نادرست است ({} نوشته شده، باید {e} باشد)؛ شماره مالیاتی را دوباره تولید کنید.", parts.check),
            format!("the check digit of tax ID `{t}` is {} but Verhoeff gives {e}; regenerate the tax ID", parts.check),
        );
    }
    if let Some(ms) = indatim {
        let day = day_of(ms);
        if parts.day as i64 != day {
            sink.error(
                "time.taxid_day",
                hpath("taxid"),
                Some("0300101".into()),
                format!("بخش تاریخ شماره مالیاتی روز {} است ولی تاریخ صدور (indatim) در روز {day} (UTC) است؛ شماره مالیاتی را با همان روز indatim بسازید.", parts.day),
                format!("the tax ID's date part is day {} but indatim falls on UTC day {day}; build the tax ID from indatim's UTC day", parts.day),
            );
        }
    }
    if let Some(inno) = inv.hstr("inno") {
        let serial_hex = &t[11..21];
        let shaped =
            !inno.is_empty() && inno.len() <= 10 && inno.bytes().all(|b| b.is_ascii_hexdigit());
        if shaped && !(inno.len() == 10 && inno.eq_ignore_ascii_case(serial_hex)) {
            sink.warn(
                "taxid.inno",
                hpath("inno"),
                Some("1300501".into()),
                format!("سریال صورتحساب (inno = «{inno}») با سریال شماره مالیاتی منطبق نیست؛ مقدار ۱۰ کاراکتری مبنای ۱۶ «{serial_hex}» را بنویسید (سامانه هشدار ۱۳۰۰۵۰۱ می‌دهد)."),
                format!("inno \"{inno}\" does not match the tax ID's serial; write the 10-character hex serial \"{serial_hex}\" (the server warns 1300501; a non-hex inno fails 0100504)"),
            );
        }
    }
}

fn time(ms: i64, ctx: &Context, sink: &mut Sink) {
    if ms > ctx.at_ms.saturating_add(ctx.future_tolerance_ms) {
        sink.error(
            "time.future",
            hpath("indatim"),
            Some("0200201".into()),
            format!("تاریخ صدور (indatim = {ms}) بیش از {} ثانیه بعد از زمان بررسی ({}) است؛ تاریخ صدور نمی‌تواند در آینده باشد (RC_TXPS.RE_V01 خطای ۰۲۰۲). تاریخ یا ساعت رایانه را درست کنید.", ctx.future_tolerance_ms / 1000, ctx.at_ms),
            format!("indatim {ms} is more than {} s after the time of checking {}; an invoice cannot be issued in the future (RC_TXPS.RE_V01 error 0202) — fix the date or the computer clock", ctx.future_tolerance_ms / 1000, ctx.at_ms),
        );
        return;
    }
    let age_ms = ctx.at_ms.saturating_sub(ms);
    let d = &ctx.deadline;
    let limit = d.days.saturating_mul(DAY_MS);
    if age_ms > limit {
        let days = age_ms / DAY_MS;
        sink.warn(
            "time.late",
            hpath("indatim"),
            Some("1200201".into()),
            format!("از تاریخ صدور {days} روز گذشته و از مهلت ارسال ({} روز؛ منبع: {}) بیشتر است؛ سامانه ممکن است آن را با خطای ۰۲۰۰۲۰۱ رد کند. هرچه زودتر بفرستید؛ اگر مهلت دیگری به شما ابلاغ شده، آن را با --deadline-days بدهید.", d.days, d.source.fa),
            format!("indatim is {days} days old, beyond the sending deadline of {} days (source: {}); the server may refuse it with 0200201. Send it as soon as possible; if you were given another deadline, pass it with --deadline-days.", d.days, d.source.en),
        );
    }
}

/// `indati2m` (creation time) must not be in the future either (RC_IITP.IS_V7.8 جدول ۵
/// ردیف ۳). The field is «در شرایط خاص اجباری»: required only for the exceptional invoices of
/// articles 9 and 12, which cannot be told from the invoice; otherwise it counts as optional
/// (RC_TXPS.EC_V02 §1), and a wrong optional field draws a warning (V7.8 §6 قاعده کلی ۲-b).
fn created(ms: i64, ctx: &Context, sink: &mut Sink) {
    if ms > ctx.at_ms.saturating_add(ctx.future_tolerance_ms) {
        sink.warn(
            "time.created_future",
            hpath("indati2m"),
            Some("1200301".into()),
            format!("تاریخ و زمان ایجاد صورتحساب (indati2m = {ms}) بعد از زمان بررسی ({}) است؛ طبق RC_IITP.IS_V7.8 جدول ۵ ردیف ۳ از زمان حال نباید بزرگتر باشد. آن را اصلاح کنید؛ در صورتحساب‌های مواد ۹ و ۱۲ که این فیلد اجباری است سامانه آن را رد می‌کند (۰۲۰۰۳۰۱).", ctx.at_ms),
            format!("indati2m {ms} is after the time of checking {}; RC_IITP.IS_V7.8 table 5 row 3: the creation time must not be in the future. Fix it — where the field is mandatory (invoices under articles 9 and 12) the server refuses it (0200301)", ctx.at_ms),
        );
    }
}

fn customs_dates(inv: &Inv, ms: i64, ctx: &Context, sink: &mut Sink) {
    let issue_day = day_of(ms);
    let today = day_of(ctx.at_ms);
    if let Some(cd) = inv.hint("cdcd") {
        if cd > issue_day || cd > today {
            sink.error(
                "time.cdcd",
                hpath("cdcd"),
                Some("0206801".into()),
                format!("تاریخ کوتاژ (cdcd = روز {cd}) باید پیش از یا برابر روز صدور صورتحساب ({issue_day}) و امروز باشد؛ cdcd تعداد روز از ۱۹۷۰/۰۱/۰۱ است نه میلی‌ثانیه."),
                format!("cdcd (day {cd}) must not be after the issue day {issue_day} or today; cdcd counts days since 1970-01-01, not ms"),
            );
        }
    }
    if let Some(ad) = inv.hint("asd") {
        if ad > issue_day {
            sink.error(
                "time.asd",
                hpath("asd"),
                None,
                format!("تاریخ اعلامیه فروش بورس (asd = روز {ad}) نباید بعد از روز صدور صورتحساب ({issue_day}) باشد."),
                format!("the bourse notice date asd (day {ad}) must not be after the issue day {issue_day}"),
            );
        }
    }
}

fn referral(inv: &Inv, indatim: Option<i64>, sink: &mut Sink) {
    let ir = inv.hstr("irtaxid");
    match inv.ins {
        Some(1) => {
            if ir.is_some() {
                sink.warn(
                    "referral.irtaxid_unexpected",
                    hpath("irtaxid"),
                    Some("14006".into()),
                    "صورتحساب اصلی شماره مالیاتی مرجع (irtaxid) ندارد؛ آن را حذف کنید یا موضوع (ins) را اصلاح کنید.".into(),
                    "an original invoice (ins 1) has no reference; remove irtaxid or fix ins".into(),
                );
            }
            return;
        }
        Some(4) if matches!(inv.inp, Some(7) | Some(8) | Some(11)) => {
            sink.error(
                "referral.return_pattern",
                hpath("ins"),
                Some("0100802".into()),
                format!("برگشت از فروش (ins=4) در الگوی {} مجاز نیست؛ صورتحساب اصلاحی یا ابطالی صادر کنید.", inv.inp.unwrap_or(0)),
                format!("a sales return (ins 4) is not allowed in pattern {}; issue a corrective or a cancellation", inv.inp.unwrap_or(0)),
            );
        }
        _ => {}
    }
    let Some(ir) = ir.filter(|t| is_taxid_shaped(t)) else {
        return;
    };
    if !taxid_valid(ir) {
        sink.error(
            "referral.irtaxid_invalid",
            hpath("irtaxid"),
            Some("0300601".into()),
            format!("شماره مالیاتی مرجع «{ir}» معتبر نیست (رقم کنترلی یا ساختار نادرست)؛ آن را از صورتحساب مرجع کپی کنید."),
            format!("the reference tax ID `{ir}` is not valid (check digit or layout); copy it from the reference invoice"),
        );
        return;
    }
    if inv.hstr("taxid") == Some(ir) {
        sink.error(
            "referral.irtaxid_self",
            hpath("irtaxid"),
            Some("0300601".into()),
            "شماره مالیاتی مرجع با شماره مالیاتی همین صورتحساب یکی است؛ صورتحساب ارجاعی به شماره مالیاتی جدید نیاز دارد.".into(),
            "irtaxid equals this invoice's own taxid; a referral needs its own new tax ID and points to the reference's".into(),
        );
        return;
    }
    if let (Some(p), Some(ms)) = (taxid_parts(ir), indatim) {
        if p.day as i64 > day_of(ms) {
            sink.error(
                "time.reference_order",
                hpath("indatim"),
                Some("0200201".into()),
                format!("تاریخ صدور این صورتحساب (روز {}) پیش از تاریخ صورتحساب مرجع (روز {}) است؛ صورتحساب ارجاعی باید بعد از مرجع صادر شود.", day_of(ms), p.day),
                format!("this invoice (day {}) is dated before its reference (day {}); a referral must be issued after the reference", day_of(ms), p.day),
            );
        }
    }
}
