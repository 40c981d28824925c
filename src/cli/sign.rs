//! `moadian sign`: sign one invoice and print its compact JWS (what would be sent, before
//! encryption) on the last line of the output, for debugging and for comparing with other
//! tools. The payload is the invoice JSON serialised compactly (keys in file order, numbers
//! exactly as written).

use super::signer_args::{signer_config, TaxpayerArgs};
use super::Global;
use crate::crypto::config::open_signer_with_report;
use crate::crypto::jws::{self, JwsOptions};
use crate::crypto::PinSource;
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signing time to put in `sigT` (UTC, e.g. 2024-03-06T13:16:11Z); default now.
    #[arg(long = "sigt", value_name = "TIME")]
    pub sig_t: Option<String>,
    /// Use the SDKs' six-key header (adds typ: jose, cty: text/plain).
    #[arg(long)]
    pub six_key: bool,
    /// Taxpayer and signer. With several certificates on the token, the one for
    /// `--national-id` is used, and a certificate of someone else is refused.
    #[command(flatten)]
    pub who: TaxpayerArgs,
    /// The invoice JSON file (one invoice object).
    pub invoice: PathBuf,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let text = std::fs::read(&args.invoice)
        .with_context(|| format!("cannot read {}", args.invoice.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not valid JSON / فایل JSON معتبر نیست",
            args.invoice.display()
        )
    })?;
    if !value.is_object() {
        anyhow::bail!(
            "{}: expected one invoice object ({{\"header\":…,\"body\":[…]}}) / یک صورتحساب (شیء JSON) لازم است",
            args.invoice.display()
        );
    }
    let payload = serde_json::to_vec(&value)?;
    let profile = args.who.profile.load(false)?;
    let cfg = signer_config(&args.who.signer, profile.as_ref())?;
    let national = args
        .who
        .national_id
        .clone()
        .or_else(|| profile.as_ref().map(|p| p.national_id.clone()));
    let opts = JwsOptions {
        sig_t: args.sig_t.clone(),
        six_key_header: args.six_key,
    };
    let lang = global.lang.single();
    let out = tokio::task::spawn_blocking(move || {
        let (signer, warnings) =
            open_signer_with_report(&cfg, PinSource::Interactive, national.as_deref())?;
        let jws = jws::sign_compact(&payload, &*signer, &opts)?;
        Ok::<_, crate::crypto::SignError>((jws, warnings))
    })
    .await?;
    match out {
        Ok((jws, warnings)) => {
            for w in warnings {
                crate::say_err!("{}", super::doctor::render(&w, lang));
            }
            println!("{jws}");
            Ok(0)
        }
        Err(e) => {
            crate::say_err!("{}", super::doctor::render_error(&e, lang));
            Ok(1)
        }
    }
}
