//! Reports of invoices carrying hostile text: the CSV never hands a spreadsheet a formula
//! (OWASP «CSV injection»: cells starting with `=`, `+`, `-`, `@`, tab, CR get a leading `'`),
//! and the HTML escapes markup that came from the invoice (`sstt`, buyer fields), the file name
//! or the server's messages.

use moadian::lang::Lang;
use moadian::report::{self, html, render, Entry};
use serde_json::json;

/// 1405/09/04 12:00 Tehran.
const AZAR: i64 = 1_795_595_400_000;

fn entry(id: i64, source: &str, server_msg: &str, finding: &str) -> Entry {
    Entry {
        id,
        source: source.into(),
        taxid: Some(format!("A11216{id:016}")),
        status: "FAILED".into(),
        ins: Some(1),
        indatim: Some(AZAR),
        payload: Some(json!({
            "header": {"indatim": AZAR, "ins": 1, "tadis": -1200, "tvam": 0, "tbill": -1200,
                       "bpn": "<b onmouseover=alert(1)>x</b>", "tinb": "\"><script>alert('b')</script>"},
            "body": [{"sstt": "<script>alert('sstt')</script>"}],
        })),
        server_errors: Some(json!([{"code": "X999", "message": server_msg}])),
        findings: Some(
            json!([{"rule": "r", "field": "body[0].sstt", "severity": "error",
                               "message": {"fa": finding, "en": finding}}]),
        ),
    }
}

fn entries() -> Vec<Entry> {
    vec![
        entry(
            1,
            "=1+2+cmd|calc!A1.json",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+1",
        ),
        entry(2, "-2+3.json", "\t=1", "\r=2"),
        entry(
            3,
            "ok.json",
            "<script>alert('srv')</script>",
            "<img src=x onerror=alert(1)>",
        ),
    ]
}

#[test]
fn csv_cells_that_look_like_formulas_are_neutralised() {
    let r = report::build(&entries(), None, None, Lang::En, AZAR);
    let csv = render::csv(&r, Lang::En).expect("csv");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let mut cells = 0;
    for rec in rdr.records() {
        for cell in rec.expect("csv record").iter() {
            cells += 1;
            let first = cell.chars().next();
            let number = cell.parse::<rust_decimal::Decimal>().is_ok();
            assert!(
                number || !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                "formula-like cell {cell:?} in\n{csv}"
            );
        }
    }
    assert!(cells > 20);
    assert!(csv.contains("'=1+2+cmd|calc!A1.json"), "{csv}");
    assert!(csv.contains("'-2+3.json"), "{csv}");
    // A negative amount stays a number.
    assert!(csv.contains(",-1200,"), "{csv}");
}

#[test]
fn html_escapes_markup_from_the_invoice_the_file_and_the_server() {
    for lang in [Lang::En, Lang::Fa] {
        let r = report::build(&entries(), None, None, lang, AZAR);
        let page = html::render(&r, lang);
        for raw in ["<script>alert", "<img src=x", "<b onmouseover"] {
            assert!(!page.contains(raw), "unescaped {raw} in\n{page}");
        }
        assert!(
            page.contains("&lt;script&gt;alert(") || page.contains("&lt;img"),
            "{page}"
        );
    }
}
