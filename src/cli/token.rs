//! `moadian token`: look at the tokens — `list` (slots, tokens, PIN flags), `certs` (each
//! certificate: subject, national ID, type, validity, CKA_ID), `forget-failed-pin` (allow a
//! stored PIN again after it was refused).

use super::Global;
use crate::crypto::pin_guard;
use crate::crypto::pkcs11::objects::{private_keys, read_certificates};
use crate::crypto::pkcs11::{module, token, LiveTokenInfo};
use crate::crypto::{PinSource, SignError};
use crate::lang::{Lang, Langs};
use cryptoki::session::UserType;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Slots, tokens and their PIN state.
    List(ListArgs),
    /// The certificates on a token: subject, national ID, type, validity, CKA_ID.
    Certs(CertsArgs),
    /// Allow the stored PIN (MOADIAN_PIN) again after the token refused it once.
    ForgetFailedPin {
        /// Serial number of the token (see `moadian token list`).
        #[arg(long, value_name = "SERIAL")]
        token_serial: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// PKCS#11 module (default: the known ePass3003/ePass2003 modules).
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Token label; unset = the only token present.
    #[arg(long, value_name = "LABEL")]
    pub token_label: Option<String>,
    #[arg(long, value_name = "SERIAL")]
    pub token_serial: Option<String>,
    /// Log in (PIN from MOADIAN_PIN or a prompt) to show which certificates have their private key.
    #[arg(long)]
    pub login: bool,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let langs = global.lang;
    let lang = langs.single();
    match args.command {
        TokenCommand::ForgetFailedPin { token_serial } => {
            if pin_guard::clear(&token_serial) {
                println!("the stored PIN may be used again with token {token_serial} / رمز ذخیره‌شده دوباره مجاز شد");
            } else {
                println!("no refused stored PIN was recorded for token {token_serial} / برای این توکن رمز ردشده‌ای ثبت نشده بود");
            }
            Ok(0)
        }
        TokenCommand::List(a) => finish(
            tokio::task::spawn_blocking(move || list(a, langs)).await?,
            lang,
        ),
        TokenCommand::Certs(a) => finish(
            tokio::task::spawn_blocking(move || certs(a, langs)).await?,
            lang,
        ),
    }
}

fn finish(r: Result<(), SignError>, lang: Option<Lang>) -> anyhow::Result<u8> {
    match r {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("{}", super::doctor::render_error(&e, lang));
            Ok(1)
        }
    }
}

fn flags_text(f: &token::PinFlags, l: Langs) -> String {
    let mut v = Vec::new();
    if f.locked {
        v.push(l.label("رمز قفل است", "PIN LOCKED"));
    }
    if f.final_try {
        v.push(l.label("آخرین تلاش رمز", "PIN final try"));
    }
    if f.count_low {
        v.push(l.label("تلاش‌های رمز کم است", "PIN count low"));
    }
    if f.to_be_changed {
        v.push(l.label("رمز باید عوض شود", "PIN must be changed"));
    }
    if f.protected_auth_path {
        v.push(l.label("صفحه‌کلید رمز", "PIN pad"));
    }
    if v.is_empty() {
        v.push(l.label("رمز سالم", "PIN ok"));
    }
    v.join(", ")
}

fn list(a: ListArgs, l: Langs) -> Result<(), SignError> {
    let (path, ctx) = module::load_configured(a.pkcs11_module.as_deref())?;
    let tokens = token::list_tokens(&ctx, &LiveTokenInfo)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tokens).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{}: {}", l.label("ماژول", "module"), path.display());
    if tokens.is_empty() {
        println!(
            "{}",
            l.label("هیچ توکنی متصل نیست", "no token is plugged in")
        );
    }
    for t in &tokens {
        println!(
            "{} {:<10} {} {:?}  {} {}  {} {}  [{}]",
            l.label("شکاف", "slot"),
            t.slot_id,
            l.label("برچسب", "label"),
            t.label,
            l.label("سریال", "serial"),
            t.serial,
            t.manufacturer,
            t.model,
            flags_text(&t.flags, l)
        );
    }
    Ok(())
}

fn certs(a: CertsArgs, l: Langs) -> Result<(), SignError> {
    let (_, ctx) = module::load_configured(a.pkcs11_module.as_deref())?;
    let (slot, tok) = token::find_token(
        &ctx,
        a.token_label.as_deref(),
        a.token_serial.as_deref(),
        &LiveTokenInfo,
    )?;
    let session = ctx
        .open_ro_session(slot)
        .map_err(|e| module::map_error(e, "C_OpenSession"))?;
    let mut list = read_certificates(&session)?;
    if a.login {
        token::pin_policy(&tok.flags, false)?;
        let pin = PinSource::Interactive.obtain(&format!("token {:?}", tok.label))?;
        let auth = pin.map(|(p, _)| p.to_auth_pin());
        match session.login(UserType::User, auth.as_ref()) {
            Ok(()) => {}
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => return Err(module::map_error(e, "C_Login")),
        }
        let keys = private_keys(&session)?;
        for c in &mut list {
            c.has_private_key = Some(keys.iter().any(|(_, id)| *id == c.id));
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{} {:?} ({} {}): {} {}",
        l.label("توکن", "token"),
        tok.label,
        l.label("سریال", "serial"),
        tok.serial,
        list.len(),
        if list.len() == 1 {
            l.label("گواهی", "certificate")
        } else {
            l.label("گواهی", "certificates")
        }
    );
    for c in &list {
        println!("- CKA_ID {}  label {:?}", c.id_hex, c.label);
        match &c.info {
            Some(i) => {
                let kind = match i.kind {
                    crate::crypto::cert::HolderKind::Individual => {
                        l.label("حقیقی (کد ملی)", "individual (national code)")
                    }
                    crate::crypto::cert::HolderKind::Legal => {
                        l.label("حقوقی (شناسه ملی)", "legal person (national ID)")
                    }
                    crate::crypto::cert::HolderKind::Unknown => l.label("نامعلوم", "unknown"),
                };
                println!("    {}: {}", l.label("صاحب", "subject"), i.subject);
                println!("    {}: {}", l.label("صادرکننده", "issuer"), i.issuer);
                println!(
                    "    {}: {}  ({kind})",
                    l.label("شناسه ملی", "national ID"),
                    i.national_id.as_deref().unwrap_or("-")
                );
                println!(
                    "    {}: {} .. {}",
                    l.label("اعتبار", "valid"),
                    crate::crypto::jws::format_sig_t(i.not_before),
                    crate::crypto::jws::format_sig_t(i.not_after)
                );
            }
            None => println!(
                "    ({})",
                l.label("گواهی X.509 خوانا نیست", "not a readable X.509 certificate")
            ),
        }
        if let Some(k) = c.has_private_key {
            println!(
                "    {}: {}",
                l.label("کلید خصوصی", "private key"),
                if k {
                    l.label("دارد", "yes")
                } else {
                    l.label("ندارد", "NO")
                }
            );
        }
    }
    Ok(())
}
