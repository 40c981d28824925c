//! What the send-path measurements share (the `runners` bench and the `send_path_cpu`
//! example): small invoices whose tax ID the queue allocates, and the server's answers to a
//! batch of attempts.

use moadian_queue::*;

/// `n` invoices of `memory`, numbered from `from`, each taking the serial the queue allocates.
pub fn items(memory: &str, from: usize, n: usize) -> Vec<NewInvoice<'static>> {
    (from..from + n)
        .map(|i| {
            let memory = memory.to_string();
            NewInvoice {
                source: format!("bench/{i}.json"),
                memory_id: memory.clone(),
                indatim: Some(1_700_000_000_000),
                kind: None,
                ins: Some(1),
                dedup_key: None,
                content: Content::Allocate(Box::new(move |serial| {
                    let taxid = format!("{memory}{serial:016X}");
                    Ok(Built {
                        payload: format!(
                            r#"{{"header":{{"taxid":"{taxid}","inno":"{serial:010X}","tbill":"2750000"}},"body":[]}}"#
                        ),
                        taxid,
                        findings: None,
                        invalid: false,
                        indatim: None,
                    })
                })),
            }
        })
        .collect()
}

/// The POST's answer: a reference number for every attempt.
pub fn accepted(attempts: &[Attempt]) -> Vec<(uuid::Uuid, String)> {
    attempts
        .iter()
        .map(|a| (a.uid, format!("ref-{}", a.uid)))
        .collect()
}

/// The inquiry's answer: SUCCESS for every attempt.
pub fn successes(attempts: &[Attempt]) -> Vec<Outcome> {
    attempts
        .iter()
        .map(|a| Outcome {
            uid: a.uid,
            status: ServerStatus::Success,
            reference: None,
            errors: None,
            warnings: None,
        })
        .collect()
}
