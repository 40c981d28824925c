//! Paging the queue by issue day (the service's invoice list): pages cross the store's scan
//! chunks without losing or repeating a row, in a real SQLite queue.

use moadian::pipeline::browse::{page, Browse};
use moadian_queue::{Content, NewInvoice, SqliteQueue, Store};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

#[test]
fn pages_by_issue_day_cover_each_matching_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let queue = SqliteQueue::open(dir.path().join("q.sqlite")).unwrap();
    let items: Vec<NewInvoice<'static>> = (0..1300i64)
        .map(|i| NewInvoice {
            source: format!("f.jsonl#{i}"),
            memory_id: "A11216".into(),
            indatim: Some(T0 + i * DAY),
            kind: None,
            ins: Some(1),
            dedup_key: None,
            content: Content::Numbered {
                taxid: format!("A11216{i:016X}"),
                serial: None,
                payload: format!("{{\"header\":{{\"n\":{i}}}}}"),
                findings: None,
                invalid: false,
            },
        })
        .collect();
    queue.enqueue_batch(items).unwrap();

    let mut b = Browse {
        from_ms: Some(T0 + 600 * DAY),
        to_ms: Some(T0 + 700 * DAY),
        limit: 40,
        ..Browse::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (rows, next) = page(&queue, &b).unwrap();
        pages += 1;
        seen.extend(rows.iter().map(|r| r.indatim.unwrap()));
        match next {
            Some(n) => b.after = Some(n),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    let want: Vec<i64> = (600..=700).map(|i| T0 + i * DAY).collect();
    assert_eq!(seen, want);

    // Nothing in range: one empty page, no next.
    let (rows, next) = page(
        &queue,
        &Browse {
            from_ms: Some(T0 + 5000 * DAY),
            limit: 10,
            ..Browse::default()
        },
    )
    .unwrap();
    assert!(rows.is_empty() && next.is_none());
}
