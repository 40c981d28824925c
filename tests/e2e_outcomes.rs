//! Nothing stays stuck and nothing valid ends FAILED by accident (issue #10): a server key
//! change mid-pass is retried with the new key under the same tax ID; a TIMEOUT answer is
//! sent again automatically; an acknowledged invoice the server then answers NOT_FOUND for
//! becomes NEEDS_ATTENTION with a way out (`moadian resend`). Through the real binary, against
//! the sandbox on 127.0.0.1, signing on SoftHSM.

mod e2e_support;
use e2e_support::*;
use moadian::sandbox::Faults;

/// `submit --wait 30s` of `n` invoices against a sandbox with `faults`, in batches of
/// `batch`: every invoice ends SUCCESS (exit 0), each registered once. The sandbox's env, the
/// tax IDs and what the command wrote to standard error.
async fn all_succeed_despite(faults: Faults, batch: usize, n: u64) -> (Env, Vec<String>, String) {
    let env = Env::new(faults, batch).await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, n);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "30s", dir.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{report:#}");
    }
    assert_exactly_once(&env.sandbox, &taxids);
    (env, taxids, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_mid_pass_is_retried_with_the_new_key_and_same_tax_id() {
    // Batches of 2: the first POST rotates the key on arrival, so it and every packet already
    // encrypted to the old key come back 04150.
    let faults = Faults {
        rotate_key_next: 1,
        ..quick_faults()
    };
    let (env, taxids, _) = all_succeed_despite(faults, 2, 6).await;
    let ledger = env.sandbox.ledger();
    assert_eq!(ledger.faults.key_rotations, 1, "the key rotated once");
    assert!(
        ledger.packets_received > taxids.len() as u64,
        "packets encrypted to the old key were refused and sent again: {ledger:?}"
    );
}

// `server-information` lists a retired key first (the guide gives `publicKeys` as a list, with
// no rule for choosing): its 04150 makes the client pass over it for the next key offered,
// never FAILED while another key is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_key_listed_first_is_passed_over_for_the_next() {
    let faults = Faults {
        retired_key_first: true,
        ..quick_faults()
    };
    let (env, taxids, _) = all_succeed_despite(faults, 1000, 3).await;
    assert!(
        env.sandbox.ledger().packets_received > taxids.len() as u64,
        "packets to the retired key were refused and sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_answers_are_sent_again_with_the_same_tax_id() {
    let env = Env::new(
        Faults {
            timeout_next: 3,
            ..quick_faults()
        },
        1000,
    )
    .await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 3);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "30s", dir.to_str().unwrap()])
        .await;
    let ledger = env.sandbox.ledger();
    assert_eq!(
        ledger.faults.timeouts, 3,
        "every first packet ended TIMEOUT"
    );
    assert_eq!(code, 0, "{report:#}\n{err}");
    for t in &taxids {
        assert_eq!(statuses(&report)[t], "SUCCESS", "{report:#}");
        assert_eq!(ledger.succeeded(t), 1, "{t} SUCCESS exactly once");
        assert_eq!(
            ledger.received(t),
            2,
            "{t}: the TIMEOUT packet and the resend"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_then_not_found_needs_attention_and_resend_settles_it() {
    let env = Env::new(
        Faults {
            forget_after_accept_next: 1,
            ..quick_faults()
        },
        1000,
    )
    .await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 1);
    let t = &taxids[0];
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "3s", dir.to_str().unwrap()])
        .await;
    assert_eq!(env.sandbox.ledger().faults.forgotten, 1);
    assert_eq!(code, 1, "not SUCCESS: exit 1\n{report:#}\n{err}");
    assert_eq!(statuses(&report)[t], "NEEDS_ATTENTION", "{report:#}");

    // status says why and what to do.
    let (code, status, _) = env.run_json(&["status"]).await;
    assert_eq!(code, 1);
    assert_eq!(status["summary"]["needs_attention"], 1, "{status:#}");
    let next = status["invoices"][0]["next"]["en"]
        .as_str()
        .unwrap_or_default();
    assert!(
        next.contains("NOT_FOUND") && next.contains(&format!("moadian resend {t}")),
        "{status:#}"
    );

    // Without a confirmation nothing happens.
    let before = env.sandbox.ledger().packets_received;
    let (code, _, err) = env.run(&["resend", t]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(env.sandbox.ledger().packets_received, before);

    // A server that will not say whether it holds the tax ID (ACCESS_DENIED, connection guide
    // §10) may hold it: nothing is sent again.
    env.sandbox
        .update_faults(|f| f.taxid_inquiry_denied = true)
        .unwrap();
    let (code, _, err) = env.run(&["resend", t, "--yes"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ACCESS_DENIED") && err.contains("would not say"),
        "{err}"
    );
    assert_eq!(env.sandbox.ledger().packets_received, before);
    env.sandbox
        .update_faults(|f| f.taxid_inquiry_denied = false)
        .unwrap();

    // Confirmed: an inquiry finds nothing, so it is sent again with the same tax ID.
    let (code, report, err) = env.run_json(&["resend", t, "--yes", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    assert_eq!(statuses(&report)[t], "SUCCESS");
    assert_eq!(env.sandbox.ledger().succeeded(t), 1);

    // Now the server has it: resend is refused.
    let (code, _, err) = env.run(&["resend", t, "--yes"]).await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(env.sandbox.ledger().succeeded(t), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_explains_what_every_unfinished_invoice_waits_for() {
    let env = Env::new(quick_faults(), 1000).await;
    let dir = env.path("invoices");
    write_invoices(&dir, 1, 2);
    let (code, _, err) = env.run_json(&["enqueue", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let (_, status, _) = env.run_json(&["status"]).await;
    for i in status["invoices"].as_array().unwrap() {
        assert_eq!(i["status"], "QUEUED");
        assert!(
            i["next"]["en"]
                .as_str()
                .unwrap_or_default()
                .contains("moadian run"),
            "{i:#}"
        );
    }
}

// RC_TXPS.EC_V02 table 5: 05151 «به بسته ارسالی مربوط نیست و مشکل داخلی سمت سرور میباشد». Not
// the invoice's fault and not registered: sent again with the same tax ID, never FAILED on
// the first such answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_inside_the_server_is_sent_again_with_the_same_tax_id() {
    let faults = Faults {
        internal_error_next: 2,
        ..quick_faults()
    };
    let (env, _, _) = all_succeed_despite(faults, 1000, 2).await;
    assert!(env.sandbox.ledger().packets_received >= 4, "sent again");
}

// A status word the connection guide does not list (§8) is never guessed at: nothing is
// recorded, the pass says which word for which invoice and exits 1; a later pass settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_word_outside_the_guide_is_named_and_never_guessed() {
    let env = Env::new(
        Faults {
            unlisted_status: true,
            ..quick_faults()
        },
        1000,
    )
    .await;
    let dir = env.path("invoices");
    let taxids = write_invoices(&dir, 1, 1);
    let (code, report, err) = env
        .run_json(&["submit", "--wait", "3s", dir.to_str().unwrap()])
        .await;
    assert_eq!(code, 1, "not final\n{report:#}\n{err}");
    assert_eq!(statuses(&report)[&taxids[0]], "IN_PROGRESS", "{report:#}");
    assert!(
        err.contains(moadian::sandbox::UNLISTED_STATUS) && err.contains(&taxids[0]),
        "{err}"
    );
    env.sandbox
        .update_faults(|f| f.unlisted_status = false)
        .unwrap();
    let (code, report, err) = env.run_json(&["run", "--wait", "30s"]).await;
    assert_eq!(code, 0, "{report:#}\n{err}");
    assert_eq!(statuses(&report)[&taxids[0]], "SUCCESS", "{report:#}");
    assert_exactly_once(&env.sandbox, &taxids);
}

// An invoice POST answered HTTP 200 with the error envelope (RC_TXPS.EC_V02 §2.1) and no
// result: the server's codes are said and kept, the invoices reconciled by inquiry, never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_in_a_200_answer_are_said_and_the_invoices_reconciled() {
    let faults = Faults {
        errors_in_200_next: 1,
        ..quick_faults()
    };
    let (_, _, err) = all_succeed_despite(faults, 1000, 2).await;
    assert!(err.contains("4145"), "{err}");
}
