//! Report totals are right (per Jalali month, in-force invoices only: corrections and returns
//! replace their reference, cancellations void it), dates filter, failures are explained, and
//! the HTML report is one self-contained right-to-left page carrying the same sums. Read from a
//! real SQLite queue file.

use moadian::lang::Lang;
use moadian::report::{self, html, render, Entry};
use moadian_queue::{Content, Enqueued, NewInvoice, RunnerStore, ServerStatus, SqliteQueue, Store};
use serde_json::{json, Value};

/// 1405/08/29 12:00 Tehran (2026-11-20 08:30 UTC) — month 1405/08.
const ABAN: i64 = 1_795_163_400_000;
/// 1405/09/04 12:00 Tehran (2026-11-25 08:30 UTC) — month 1405/09.
const AZAR: i64 = 1_795_595_400_000;
const H: i64 = 3_600_000;

fn inv(taxid: &str, indatim: i64, ins: i64, irtaxid: Option<&str>, tadis: i64, tvam: i64) -> Value {
    let mut h = json!({"taxid": taxid, "indatim": indatim, "inty": 1, "inp": 1, "ins": ins,
        "tins": "14003778990", "tadis": tadis, "tvam": tvam, "tbill": tadis + tvam});
    if let Some(r) = irtaxid {
        h["irtaxid"] = json!(r);
    }
    if ins == 3 {
        for k in ["tadis", "tvam", "tbill"] {
            h.as_object_mut().expect("obj").remove(k);
        }
    }
    json!({"header": h, "body": [], "payments": []})
}

/// (taxid, payload, final status, server errors)
fn fixture() -> Vec<(String, Value, ServerStatus, Option<Value>)> {
    let t = |n: u8| format!("A11216{n:016}");
    vec![
        // Aban: an original later corrected (correction in force), one plain original.
        (
            t(1),
            inv(&t(1), ABAN, 1, None, 100_000, 10_000),
            ServerStatus::Success,
            None,
        ),
        (
            t(2),
            inv(&t(2), ABAN + H, 1, None, 50_000, 5_000),
            ServerStatus::Success,
            None,
        ),
        // Azar: the correction of 1 (replaces it), an original cancelled later, a failure,
        // a return of 2 (replaces it), and the cancellation.
        (
            t(3),
            inv(&t(3), AZAR, 2, Some(&t(1)), 90_000, 9_000),
            ServerStatus::Success,
            None,
        ),
        (
            t(4),
            inv(&t(4), AZAR + H, 1, None, 70_000, 7_000),
            ServerStatus::Success,
            None,
        ),
        (
            t(5),
            inv(&t(5), AZAR + 2 * H, 1, None, 30_000, 3_000),
            ServerStatus::Failed,
            Some(json!([{"code": "0304401", "message": "vra"}])),
        ),
        (
            t(6),
            inv(&t(6), AZAR + 3 * H, 4, Some(&t(2)), 20_000, 2_000),
            ServerStatus::Success,
            None,
        ),
        (
            t(7),
            inv(&t(7), AZAR + 4 * H, 3, Some(&t(4)), 0, 0),
            ServerStatus::Success,
            None,
        ),
    ]
}

/// A real queue file holding the fixture at its final statuses.
fn queue_with_fixture(dir: &std::path::Path) -> SqliteQueue {
    queue_with(dir, fixture())
}

/// A real queue file holding `items` at their final statuses.
fn queue_with(
    dir: &std::path::Path,
    items: Vec<(String, Value, ServerStatus, Option<Value>)>,
) -> SqliteQueue {
    let q = SqliteQueue::open(dir.join("q.sqlite")).expect("queue");
    let runner = q.acquire_runner().expect("runner");
    for (taxid, payload, status, errors) in items {
        let item = NewInvoice {
            source: format!("{taxid}.json"),
            memory_id: "A11216".into(),
            indatim: payload["header"]["indatim"].as_i64(),
            kind: Some("1".into()),
            ins: payload["header"]["ins"].as_i64(),
            dedup_key: None,
            content: Content::Numbered {
                taxid: taxid.clone(),
                serial: None,
                payload: payload.to_string(),
                findings: None,
                invalid: false,
            },
        };
        let placed = match runner.queue().enqueue(item).expect("enqueue") {
            Enqueued::Inserted(p) => p,
            other => panic!("{other:?}"),
        };
        let key = moadian_queue::InvoiceKey {
            id: placed.id,
            revision: placed.revision,
        };
        let a = runner.begin_attempt(&[key], "b1").expect("attempt");
        runner
            .record_accepted(a[0].uid, &format!("ref-{taxid}"))
            .expect("accepted");
        runner
            .record_outcome(a[0].uid, status, errors, None)
            .expect("outcome");
    }
    drop(runner);
    q
}

fn entries() -> (tempfile::TempDir, Vec<Entry>) {
    let dir = tempfile::tempdir().expect("tmp");
    let q = queue_with_fixture(dir.path());
    let e = report::entries_from_queue(&q).expect("entries");
    (dir, e)
}

fn d(s: &str) -> rust_decimal::Decimal {
    s.parse().expect("decimal")
}

#[test]
fn totals_per_jalali_month_count_only_invoices_in_force() {
    let (_dir, e) = entries();
    assert_eq!(e.len(), 7);
    let r = report::build(&e, None, None, Lang::Fa, AZAR);
    let periods: Vec<&str> = r.periods.iter().map(|p| p.period.as_str()).collect();
    assert_eq!(periods, vec!["1405/08", "1405/09"]);
    let aban = &r.periods[0];
    // 1 is replaced by its correction, 2 by its return: nothing of Aban is in force.
    assert_eq!((aban.invoices, aban.success, aban.failed), (2, 2, 0));
    assert_eq!(
        (aban.tadis, aban.tvam, aban.tbill),
        (d("0"), d("0"), d("0"))
    );
    let azar = &r.periods[1];
    assert_eq!(
        (azar.invoices, azar.success, azar.failed, azar.pending),
        (5, 4, 1, 0)
    );
    // In force: correction 3 (90,000 + 9,000) and return 6 (20,000 + 2,000); 4 is cancelled,
    // 5 failed, 7 is the cancellation.
    assert_eq!(azar.tadis, d("110000"));
    assert_eq!(azar.tvam, d("11000"));
    assert_eq!(azar.tbill, d("121000"));
    assert_eq!(r.total.tvam, d("11000"));
    assert_eq!(r.total.tbill, d("121000"));
    assert_eq!(r.total.invoices, 7);
    let in_force: Vec<bool> = r.rows.iter().map(|x| x.in_force).collect();
    assert_eq!(
        in_force,
        vec![false, false, true, false, false, true, false]
    );
}

#[test]
fn date_filter_and_jalali_dates() {
    let (_dir, e) = entries();
    let r = report::build(&e, Some(AZAR - H), None, Lang::Fa, AZAR);
    assert_eq!(r.rows.len(), 5);
    assert_eq!(r.rows[0].date, "1405/09/04 12:00");
    let r = report::build(&e, None, Some(AZAR - H), Lang::En, AZAR);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].date, "1405/08/29 12:00 (2026-11-20 12:00)");
}

#[test]
fn failures_are_explained_from_the_code_catalogue() {
    let (_dir, e) = entries();
    let r = report::build(&e, None, None, Lang::En, AZAR);
    let failed = r
        .rows
        .iter()
        .find(|x| x.status == "FAILED")
        .expect("failed row");
    assert_eq!(failed.problems.len(), 1);
    assert_eq!(failed.problems[0].code, "0304401");
    let want = moadian::codes::one_line("0304401", Lang::En).expect("catalogued");
    assert_eq!(failed.problems[0].explanation, want);
    let table = render::table(&r, Lang::En);
    assert!(table.contains("0304401") && table.contains(&want));
}

#[test]
fn csv_and_json_carry_the_same_totals() {
    let (_dir, e) = entries();
    let r = report::build(&e, None, None, Lang::En, AZAR);
    let csv = render::csv(&r, Lang::En).expect("csv");
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("1405/09,5,4,1,0,110000,11000,121000"), "{csv}");
    assert!(csv.contains("total,7,6,1,0,110000,11000,121000"), "{csv}");
    let j: Value = serde_json::from_str(&render::json(&r).expect("json")).expect("parse");
    assert_eq!(j["total"]["tbill"], "121000");
    assert_eq!(j["periods"][1]["tvam"], "11000");
}

#[test]
fn html_report_is_self_contained_rtl_with_correct_sums() {
    let (_dir, e) = entries();
    let r = report::build(&e, None, None, Lang::Fa, AZAR);
    let page = html::render(&r, Lang::Fa);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<html lang=\"fa\" dir=\"rtl\">"));
    assert!(page.contains("<meta charset=\"utf-8\">"));
    for external in ["<script", "<link", "http://", "https://", "@import", "url("] {
        assert!(!page.contains(external), "external resource: {external}");
    }
    // The grand totals, grouped by thousands, in the summary cards and the month table.
    assert!(
        page.contains("<div class=\"v\">121,000</div>"),
        "tbill card"
    );
    assert!(page.contains("<div class=\"v\">11,000</div>"), "tvam card");
    assert!(
        page.contains("<bdi>110,000</bdi>"),
        "tadis in the month table"
    );
    assert!(page.contains("آذر 1405") && page.contains("آبان 1405"));
    assert!(page.contains("1405/09/04 12:00"));
    assert!(page.contains("0304401"));
    let en = html::render(&report::build(&e, None, None, Lang::En, AZAR), Lang::En);
    assert!(en.contains("<html lang=\"en\" dir=\"ltr\">"));
}

#[test]
fn totals_per_season() {
    let (_dir, e) = entries();
    let r = report::build_grouped(&e, None, None, Lang::Fa, AZAR, report::Grouping::Season);
    // Aban and Azar are both in autumn (Q3: Mehr–Azar).
    assert_eq!(r.periods.len(), 1);
    assert_eq!(r.periods[0].period, "1405/Q3");
    assert_eq!(r.periods[0].tbill, d("121000"));
    assert_eq!(report::period_label("1405/Q3", Lang::Fa), "پاییز 1405");
    assert_eq!(report::period_label("1405/09", Lang::En), "1405/09 Azar");
    let page = html::render(&r, Lang::Fa);
    assert!(page.contains("پاییز 1405") && page.contains("جمع به تفکیک فصل"));
}

#[test]
fn report_table_snapshot() {
    let (_dir, e) = entries();
    let r = report::build(&e, None, None, Lang::Fa, AZAR);
    // The tables only: the failures' wording belongs to the code catalogue.
    let fa = render::table(&r, Lang::Fa);
    insta::assert_snapshot!(
        "report_table_fa",
        fa.split("خطاها:").next().unwrap_or_default()
    );
    let r = report::build(&e, None, None, Lang::En, AZAR);
    let en = render::table(&r, Lang::En);
    insta::assert_snapshot!(
        "report_table_en",
        en.split("Failures:").next().unwrap_or_default()
    );
}

/// The fixture's invoices spread over several pages of the queue: 1,200 plain originals come
/// first, so the correction and the return that replace invoices 1 and 2 are read pages after
/// the invoices they replace.
fn long_queue(dir: &std::path::Path) -> SqliteQueue {
    let mut items: Vec<_> = (0..1200u32)
        .map(|n| {
            let taxid = format!("A11216{:016}", 1000 + n);
            let payload = inv(&taxid, ABAN + i64::from(n), 1, None, 1_000, 100);
            (taxid, payload, ServerStatus::Success, None)
        })
        .collect();
    let mut f = fixture();
    // 1 and 2 first, then the 1,200, then the rest of the fixture.
    let rest = f.split_off(2);
    f.append(&mut items);
    f.extend(rest);
    queue_with(dir, f)
}

#[test]
fn the_report_read_from_the_queue_a_page_at_a_time_is_the_report_built_in_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let q = long_queue(dir.path());
    for (lang, grouping) in [
        (Lang::Fa, report::Grouping::Month),
        (Lang::En, report::Grouping::Season),
    ] {
        let e = report::entries_from_queue(&q).expect("entries");
        let whole = report::build_grouped(&e, None, None, lang, AZAR, grouping);
        let scope = report::Scope {
            from: None,
            to: None,
            lang,
            grouping,
        };
        let streamed = report::QueueReport::new(&q, scope, AZAR).expect("report");
        let v = streamed.view();
        assert_eq!(v.total, &whole.total);
        assert_eq!(v.periods, whole.periods.as_slice());
        // 1,200 in force at 1,100 each, plus the correction and the return.
        assert_eq!(whole.total.tbill, d("1441000"));
        let mut out = Vec::new();
        render::write_json(&v, &mut out).expect("json");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            render::json(&whole).expect("json")
        );
        let mut out = Vec::new();
        render::write_csv(&v, lang, &mut out).expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            render::csv(&whole, lang).expect("csv")
        );
        let mut out = Vec::new();
        html::write(&v, lang, &mut out).expect("html");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            html::render(&whole, lang)
        );
        // The table is drawn 500 rows at a time; every invoice and the totals are in it.
        let mut out = Vec::new();
        render::write_table(&v, lang, &mut out).expect("table");
        let table = String::from_utf8(out).expect("utf8");
        assert_eq!(table, render::table(&whole, lang));
        assert!(table.matches("A11216").count() >= 1207, "{table}");
        assert!(table.contains("A112160000000000002199"));
    }
    // A date filter applies the same way.
    let e = report::entries_from_queue(&q).expect("entries");
    let whole = report::build(&e, Some(AZAR - H), None, Lang::Fa, AZAR);
    let scope = report::Scope {
        from: Some(AZAR - H),
        to: None,
        lang: Lang::Fa,
        grouping: report::Grouping::Month,
    };
    let streamed = report::QueueReport::new(&q, scope, AZAR).expect("report");
    assert_eq!(streamed.view().total, &whole.total);
    assert_eq!(whole.total.invoices, 5);
}

#[test]
fn report_out_writes_the_whole_file_or_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    drop(queue_with_fixture(dir.path()));
    let q = dir.path().join("q.sqlite");
    let out = dir.path().join("report.csv");
    let run = assert_cmd::Command::cargo_bin("moadian")
        .expect("bin")
        .args(["--lang", "en", "report", "--queue"])
        .arg(&q)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(&out).expect("written");
    assert!(csv.contains("total,7,6,1,0,110000,11000,121000"), "{csv}");
    // Only the report and the queue's files: no partial file left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("q.sqlite"))
        .collect();
    assert_eq!(names, vec!["report.csv".to_string()]);
    // A directory that does not exist: an error naming the file, nothing written.
    let missing = dir.path().join("no-such-dir").join("r.html");
    let run = assert_cmd::Command::cargo_bin("moadian")
        .expect("bin")
        .args(["--lang", "en", "report", "--queue"])
        .arg(&q)
        .arg("--out")
        .arg(&missing)
        .output()
        .expect("run");
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("r.html"), "{err}");
}

/// An invoice whose send began and got no answer (SENDING in the queue) is UNKNOWN in the
/// report, as in `status`.
#[test]
fn a_send_without_an_answer_is_unknown_in_the_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let q = SqliteQueue::open(dir.path().join("q.sqlite")).expect("queue");
    let runner = q.acquire_runner().expect("runner");
    let payload = inv(
        "A11216049E8A00000000A2",
        1_709_700_000_000,
        1,
        None,
        100,
        10,
    );
    let item = NewInvoice {
        source: "a.json".into(),
        memory_id: "A11216".into(),
        indatim: payload["header"]["indatim"].as_i64(),
        kind: Some("1".into()),
        ins: Some(1),
        dedup_key: None,
        content: Content::Numbered {
            taxid: "A11216049E8A00000000A2".into(),
            serial: None,
            payload: payload.to_string(),
            findings: None,
            invalid: false,
        },
    };
    let Enqueued::Inserted(p) = runner.queue().enqueue(item).expect("enqueue") else {
        panic!("not inserted")
    };
    let key = moadian_queue::InvoiceKey {
        id: p.id,
        revision: p.revision,
    };
    runner.begin_attempt(&[key], "b1").expect("attempt");
    drop(runner);
    let e = report::entries_from_queue(&q).expect("entries");
    assert_eq!(e[0].status, "UNKNOWN");
}

#[test]
fn report_dates_out_of_order_are_refused_and_out_dash_is_standard_output() {
    let dir = tempfile::tempdir().expect("tmp");
    drop(queue_with_fixture(dir.path()));
    let q = dir.path().join("q.sqlite");
    let report = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("moadian")
            .expect("bin")
            .current_dir(dir.path())
            .args(["--lang", "en", "report", "--queue"])
            .arg(&q)
            .args(args)
            .output()
            .expect("run")
    };
    // --from after --to: a usage error naming both, not an empty report.
    let run = report(&["--from", "1405/09/01", "--to", "1405/08/01"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1405/09/01") && err.contains("1405/08/01"),
        "{err}"
    );
    // --out - is standard output (and no file named "-").
    let run = report(&["--format", "csv", "--out", "-"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = String::from_utf8_lossy(&run.stdout);
    assert!(csv.contains("total,7,6,1,0,110000,11000,121000"), "{csv}");
    assert!(!dir.path().join("-").exists());
}
