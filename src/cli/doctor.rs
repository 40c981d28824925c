//! `moadian doctor`: the preflight checklist — module loads, token present, PIN state, login,
//! certificate found and valid, national ID matches, key matches certificate; online also
//! server reachable, clock skew against `serverTime`, memory ID status. Each check prints
//! ok/warn/fail with the fix; exit 1 when any check fails. The same checks
//! ([`crate::pipeline::preflight`]) run before each submission.

use super::signer_args::{signer_config, TaxpayerArgs};
use super::Global;
use crate::api::{Client, ClientOptions};
use crate::crypto::checks::{Check, CheckStatus};
use crate::crypto::{PinSource, SignError};
use crate::lang::Lang;
use crate::pipeline::preflight;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the local checks (token, PIN, certificate); no network.
    #[arg(long)]
    pub offline: bool,
    /// The tax API to check against: production, tax-sandbox or a base URL (e.g. the one
    /// `moadian sandbox serve` prints); default: the profile's endpoint, else production.
    #[arg(
        long = "endpoint",
        visible_alias = "base-url",
        value_name = "URL",
        env = "MOADIAN_BASE_URL",
        value_parser = crate::config::endpoint_arg
    )]
    pub base_url: Option<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub who: TaxpayerArgs,
}

/// One check for a person: in `lang`, or English with the Persian text under it. A warning or
/// failure the code catalogue explains points to `moadian explain ID`.
pub fn render(c: &Check, lang: Option<Lang>) -> String {
    let text = match lang {
        Some(l) => c.line(l),
        None => {
            let fa = match &c.fix {
                Some(f) => format!("{} — {}", c.message.fa, f.fa),
                None => c.message.fa.clone(),
            };
            format!("{}\n       {fa}", c.line(Lang::En))
        }
    };
    if c.status != CheckStatus::Ok && crate::codes::lookup_local(c.id).is_some() {
        format!("{text}\n       → moadian explain {}", c.id)
    } else {
        text
    }
}

/// A signer error for a person.
pub fn render_error(e: &SignError, lang: Option<Lang>) -> String {
    let m = e.message();
    match lang {
        Some(l) => format!("error [{}]: {}", e.check_id(), m.get(l)),
        None => format!("error [{}]: {}\n       {}", e.check_id(), m.en, m.fa),
    }
}

/// What the checks run with: the flags over the chosen profile of `moadian.toml`.
struct Settings {
    memory_id: Option<String>,
    national_id: Option<String>,
    signer: crate::crypto::SignerConfig,
    base_url: String,
}

/// Reads the profile when one is asked for (`--profile`/`--config`) or when the taxpayer was
/// not given on the command line and a `moadian.toml` exists.
fn settings(args: &Args) -> anyhow::Result<Settings> {
    let who = &args.who;
    let needed = who.national_id.is_none() || (!args.offline && who.memory_id.is_none());
    let profile = who.profile.load(needed)?;
    let endpoint_url = profile.as_ref().and_then(|p| p.endpoint.url());
    let in_process_sandbox = profile
        .as_ref()
        .is_some_and(|p| p.endpoint == crate::config::Endpoint::Sandbox);
    let given = args.base_url.as_deref().map(crate::config::Endpoint::parse);
    let in_process_sandbox = match &given {
        Some(e) => *e == crate::config::Endpoint::Sandbox,
        None => in_process_sandbox,
    };
    if in_process_sandbox && !args.offline {
        anyhow::bail!(
            "the endpoint is the built-in sandbox, which runs inside submit/run; start one with `moadian sandbox serve` and pass --endpoint URL, or use --offline / سامانهٔ آزمایشی داخلی فقط درون submit/run اجرا می‌شود؛ با `moadian sandbox serve` یکی اجرا کنید و ‎--endpoint‎ بدهید، یا ‎--offline‎"
        );
    }
    Ok(Settings {
        memory_id: who
            .memory_id
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.memory_id.clone())),
        national_id: who
            .national_id
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.national_id.clone())),
        signer: signer_config(&who.signer, profile.as_ref())?,
        base_url: given
            .and_then(|e| e.url())
            .or(endpoint_url)
            .unwrap_or_else(|| crate::api::PRODUCTION_URL.to_string()),
    })
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let s = settings(&args)?;
    let national_id = s.national_id.clone();
    let cfg = s.signer.clone();
    let key_file = cfg.key_file.clone();
    let pf = preflight::run_offline(cfg, PinSource::Interactive, national_id.clone()).await;
    let mut checks = pf.checks;
    let tokens = pf.tokens;
    if let Some(k) = &key_file {
        checks.extend(crate::crypto::keyfile::hygiene(k));
    }
    if !args.offline {
        let Some(memory_id) = s.memory_id.clone() else {
            anyhow::bail!("--memory-id is needed for the online checks (or pass --offline) / برای بررسی برخط --memory-id لازم است");
        };
        match pf.signer {
            Some(signer) => {
                let client =
                    Client::new(&s.base_url, &memory_id, signer, ClientOptions::from_env())?;
                checks.extend(
                    preflight::server_checks(&client, &memory_id, national_id.as_deref()).await,
                );
            }
            None => checks.push(Check::warn(
                "server.unreachable",
                crate::lang::Message::new(
                    "بررسی‌های برخط انجام نشد: امضاکننده باز نشد (هر درخواست سامانه امضا می‌خواهد).",
                    "online checks skipped: the signer did not open (every API call is signed).",
                ),
                crate::lang::Message::new(
                    "ابتدا خطای بالا را رفع کنید.",
                    "fix the failure above first.",
                ),
            )),
        }
    }
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            println!("{}", render(c, global.lang.single()));
        }
        if !tokens.is_empty() {
            println!();
            print!("{}", super::token::render_inventory(&tokens, global.lang));
            println!();
        }
        let warned = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Warn)
            .count();
        let ok = checks.len() - failed - warned;
        println!(
            "{}",
            global.lang.text(&crate::lang::Message::new(
                format!("{ok} درست، {warned} هشدار، {failed} خطا"),
                format!(
                    "{ok} ok, {warned} warning{}, {failed} failed",
                    super::plural(warned as u64)
                ),
            ))
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
