//! The report as ONE self-contained HTML file: inline CSS, system fonts only, no scripts, no
//! external resources; Persian right to left (`dir="rtl"`, `lang="fa"`), English left to right.

use super::{group, ins_name, status_name, Report, View};
use crate::import::jalali;
use crate::lang::Lang;
use std::io::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn t(lang: Lang, fa: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fa => fa,
        Lang::En => en,
    }
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{font-family:Tahoma,"Vazirmatn","Noto Sans Arabic","DejaVu Sans",Arial,sans-serif;margin:24px;color:#1d2733;background:#f6f7f9;font-size:14px;line-height:1.6}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d5dbe3;padding-bottom:4px}
.meta{color:#5b6776;margin-bottom:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d5dbe3;border-radius:8px;padding:10px 16px;min-width:170px}
.card .k{color:#5b6776;font-size:12px}
.card .v{font-size:18px;font-weight:bold;direction:ltr;unicode-bidi:isolate}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d5dbe3}
th,td{padding:6px 10px;border-bottom:1px solid #e6eaef;text-align:start;vertical-align:top}
th{background:#eef1f5;font-weight:bold;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
td.num,th.num{text-align:end;white-space:nowrap;font-variant-numeric:tabular-nums}
.num bdi,.ltr{direction:ltr;unicode-bidi:isolate}
.taxid{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:12px;direction:ltr;unicode-bidi:isolate}
.st{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;white-space:nowrap}
.SUCCESS{background:#dcf3e3;color:#13612e}
.FAILED,.INVALID{background:#fbe0e0;color:#8a1c1c}
.QUEUED,.SENDING,.IN_PROGRESS,.UNKNOWN{background:#fff2cc;color:#7a5800}
.date{white-space:nowrap}
.off{color:#8a94a0;text-decoration:line-through}
tfoot td{font-weight:bold;background:#eef1f5}
.code{font-family:"DejaVu Sans Mono",Consolas,monospace;direction:ltr;unicode-bidi:isolate;white-space:nowrap}
.note{color:#5b6776;font-size:12px;margin-top:6px}
@media print{body{background:#fff;margin:0}.card{border-color:#999}}
"#;

/// Renders the report page.
pub fn render(r: &Report, lang: Lang) -> String {
    let mut out = Vec::new();
    write(&r.view(), lang, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

/// [`render`], written as the rows are read.
pub fn write(r: &View, lang: Lang, out: &mut dyn Write) -> anyhow::Result<()> {
    let (dir, code) = match lang {
        Lang::Fa => ("rtl", "fa"),
        Lang::En => ("ltr", "en"),
    };
    let greg = lang == Lang::En;
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        t(lang, "گزارش صورتحساب‌های سامانه مودیان", "Moadian invoice report")
    ));
    h.push_str(&format!(
        "<h1>{}</h1>\n",
        t(
            lang,
            "گزارش صورتحساب‌های سامانه مودیان",
            "Moadian invoice report"
        )
    ));
    let range = match (r.from, r.to) {
        (None, None) => t(lang, "همه تاریخ‌ها", "all dates").to_string(),
        (f, to) => format!(
            "{} {} {} {}",
            t(lang, "از", "from"),
            f.map(|x| jalali::format_unix_ms(x, false, greg))
                .unwrap_or_else(|| "…".into()),
            t(lang, "تا", "to"),
            to.map(|x| jalali::format_unix_ms(x, false, greg))
                .unwrap_or_else(|| "…".into()),
        ),
    };
    h.push_str(&format!(
        "<div class=\"meta\">{}: <bdi>{}</bdi> · {}</div>\n",
        t(lang, "تهیه‌شده در", "generated"),
        esc(&jalali::format_unix_ms(r.generated_at, true, greg)),
        esc(&range)
    ));
    let tot = r.total;
    h.push_str("<div class=\"cards\">\n");
    for (k, v) in [
        (
            t(lang, "تعداد صورتحساب", "invoices"),
            tot.invoices.to_string(),
        ),
        (t(lang, "پذیرفته", "accepted"), tot.success.to_string()),
        (
            t(lang, "رد شده / نامعتبر", "failed / invalid"),
            tot.failed.to_string(),
        ),
        (
            t(
                lang,
                "جمع فروش پس از تخفیف (ریال)",
                "sales after discount (rial)",
            ),
            group(&tot.tadis),
        ),
        (
            t(lang, "جمع مالیات ارزش افزوده (ریال)", "VAT total (rial)"),
            group(&tot.tvam),
        ),
        (
            t(lang, "جمع صورتحساب‌ها (ریال)", "invoice totals (rial)"),
            group(&tot.tbill),
        ),
    ] {
        h.push_str(&format!(
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>\n",
            esc(k),
            esc(&v)
        ));
    }
    h.push_str("</div>\n");

    // Per month.
    h.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"periods\">\n<thead><tr>",
        if r.grouping == super::Grouping::Season {
            t(lang, "جمع به تفکیک فصل", "Totals per season")
        } else {
            t(lang, "جمع به تفکیک ماه", "Totals per month")
        }
    ));
    for (c, num) in [
        (
            if r.grouping == super::Grouping::Season {
                t(lang, "فصل", "season")
            } else {
                t(lang, "ماه", "month")
            },
            false,
        ),
        (t(lang, "تعداد", "invoices"), true),
        (t(lang, "پذیرفته", "success"), true),
        (t(lang, "رد/نامعتبر", "failed"), true),
        (t(lang, "در جریان", "pending"), true),
        (t(lang, "فروش پس از تخفیف", "after discount"), true),
        (t(lang, "مالیات ارزش افزوده", "VAT"), true),
        (t(lang, "جمع صورتحساب", "total"), true),
    ] {
        h.push_str(&format!(
            "<th{}>{}</th>",
            if num { " class=\"num\"" } else { "" },
            esc(c)
        ));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let month_row = |p: &super::Period, label: String| {
        format!(
            "<td><bdi>{}</bdi></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\"><bdi>{}</bdi></td><td class=\"num\"><bdi>{}</bdi></td><td class=\"num\"><bdi>{}</bdi></td>",
            esc(&label), p.invoices, p.success, p.failed, p.pending, group(&p.tadis), group(&p.tvam), group(&p.tbill)
        )
    };
    for p in r.periods {
        let label = super::period_label(&p.period, lang);
        h.push_str(&format!("<tr>{}</tr>\n", month_row(p, label)));
    }
    h.push_str(&format!(
        "</tbody>\n<tfoot><tr>{}</tr></tfoot>\n</table>\n",
        month_row(tot, t(lang, "جمع کل", "total").to_string())
    ));
    h.push_str(&format!(
        "<div class=\"note\">{}</div>\n",
        t(
            lang,
            "مبالغ فقط برای صورتحساب‌های پذیرفته‌ای جمع می‌شوند که با صورتحساب اصلاحی، برگشت از فروش یا ابطالیِ پذیرفته‌شده جایگزین یا باطل نشده‌اند.",
            "Amounts count only for accepted invoices not replaced or voided by an accepted correction, return or cancellation."
        )
    ));

    // Invoices.
    h.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"invoices\">\n<thead><tr>",
        t(lang, "صورتحساب‌ها", "Invoices")
    ));
    for (c, num) in [
        ("#", false),
        (t(lang, "تاریخ صدور", "issue date"), false),
        (t(lang, "شماره مالیاتی", "tax ID"), false),
        (t(lang, "موضوع", "subject"), false),
        (t(lang, "مرجع", "reference"), false),
        (t(lang, "وضعیت", "status"), false),
        (t(lang, "پس از تخفیف", "after discount"), true),
        (t(lang, "مالیات ارزش افزوده", "VAT"), true),
        (t(lang, "مبلغ کل", "total"), true),
    ] {
        h.push_str(&format!(
            "<th{}>{}</th>",
            if num { " class=\"num\"" } else { "" },
            esc(c)
        ));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    out.write_all(h.as_bytes())?;
    h.clear();
    r.rows.each(&mut |row| {
        let off = row.status == "SUCCESS" && !row.in_force && row.ins != Some(3);
        let amt = |d: &Option<rust_decimal::Decimal>| {
            let v = d.as_ref().map(group).unwrap_or_default();
            if off {
                format!("<span class=\"off\"><bdi>{}</bdi></span>", esc(&v))
            } else {
                format!("<bdi>{}</bdi>", esc(&v))
            }
        };
        let mut status = esc(&status_name(&row.status, lang));
        if off {
            status.push_str(&format!(
                " <small>({})</small>",
                t(lang, "جایگزین/ابطال شده", "replaced/cancelled")
            ));
        }
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"date\"><bdi>{}</bdi></td><td><span class=\"taxid\">{}</span></td><td>{}</td><td><span class=\"taxid\">{}</span></td>\
             <td><span class=\"st {}\">{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            row.id,
            esc(&row.date),
            esc(row.taxid.as_deref().unwrap_or("—")),
            esc(ins_name(row.ins, lang)),
            esc(row.irtaxid.as_deref().unwrap_or("")),
            esc(&row.status),
            status,
            amt(&row.tadis),
            amt(&row.tvam),
            amt(&row.tbill),
        ));
        out.write_all(h.as_bytes())?;
        h.clear();
        Ok(())
    })?;
    out.write_all(b"</tbody>\n</table>\n")?;

    // Failures.
    let mut first = true;
    r.rows.each(&mut |row| {
        if row.problems.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut first) {
            write!(
                out,
                "<h2>{}</h2>\n<table class=\"failures\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
                t(lang, "خطاها و توضیح آن‌ها", "Failures explained"),
                t(lang, "صورتحساب", "invoice"),
                t(lang, "کد", "code"),
                t(lang, "توضیح", "explanation"),
            )?;
        }
        let who = row.taxid.clone().unwrap_or_else(|| row.source.clone());
        for p in &row.problems {
            writeln!(
                out,
                "<tr><td><span class=\"taxid\">{}</span></td><td><span class=\"code\">{}</span></td><td>{}</td></tr>",
                esc(&who),
                esc(&p.code),
                esc(&p.explanation)
            )?;
        }
        Ok(())
    })?;
    if !first {
        out.write_all(b"</tbody>\n</table>\n")?;
    }
    out.write_all(b"</body>\n</html>\n")?;
    Ok(())
}
