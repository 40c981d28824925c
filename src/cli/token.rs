//! `moadian token`: look at the tokens — `list` (slots, tokens, PIN flags), `certs` (every
//! certificate on every token: kind, national ID, validity, CKA_ID, its key, which one would
//! sign and why), `forget-failed-pin` (allow a stored PIN again after it was refused).

use super::Global;
use crate::crypto::jws::format_sig_t;
use crate::crypto::pin_guard;
use crate::crypto::pkcs11::choice::{pair, select, KeyState, Want};
use crate::crypto::pkcs11::objects::{read_certificates, unhex};
use crate::crypto::pkcs11::signer::TokenInventory;
use crate::crypto::pkcs11::{module, token, LiveTokenInfo, Pkcs11Signer};
use crate::crypto::{PinSource, SignError, SignerConfig};
use crate::lang::{Lang, Langs};
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
    /// Every certificate on every token: kind (Sign/Stamp), national ID, validity, CKA_ID, its
    /// key (with --login), and which one would sign and why.
    Certs(CertsArgs),
    /// Allow the stored PIN (MOADIAN_PIN) again after the token refused it once.
    ForgetFailedPin(ForgetArgs),
}

#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// Serial number of the token (see `moadian token list`); not needed when only one token
    /// has a refused PIN recorded, or only one token is plugged in.
    #[arg(long, value_name = "SERIAL")]
    pub token_serial: Option<String>,
    /// PKCS#11 module, to see which token is plugged in (default: the known modules).
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
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
    /// Token label; unset = every token present.
    #[arg(long, value_name = "LABEL")]
    pub token_label: Option<String>,
    #[arg(long, value_name = "SERIAL")]
    pub token_serial: Option<String>,
    /// The taxpayer's national ID/code: marks the certificate that would sign for them.
    #[arg(long, value_name = "ID")]
    pub national_id: Option<String>,
    /// CKA_ID (hex) of the pair to sign with, as `sign --key-id` takes it.
    #[arg(long, value_name = "HEX")]
    pub key_id: Option<String>,
    /// Log in (PIN from MOADIAN_PIN or a prompt) to show which certificates have their private
    /// key, and make the test signature with the pair that would sign.
    #[arg(long)]
    pub login: bool,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let langs = global.lang;
    let lang = langs.single();
    match args.command {
        TokenCommand::ForgetFailedPin(a) => {
            finish(tokio::task::spawn_blocking(move || forget(a)).await?, lang)
        }
        TokenCommand::List(a) => finish(
            tokio::task::spawn_blocking(move || list(a, langs)).await?,
            lang,
        ),
        TokenCommand::Certs(a) => {
            let out = tokio::task::spawn_blocking(move || certs(a, langs)).await?;
            finish(out, lang)
        }
    }
}

fn forget(a: ForgetArgs) -> Result<(), SignError> {
    let serial = match a.token_serial {
        Some(s) => s,
        None => {
            let marks = pin_guard::all();
            match marks.as_slice() {
                [] => {
                    println!("no refused stored PIN is recorded / هیچ رمز ردشده‌ای ثبت نشده است");
                    return Ok(());
                }
                [one] => one.serial.clone(),
                several => {
                    // Several marks: the token plugged in, if it is only one.
                    let present = module::load_configured(a.pkcs11_module.as_deref())
                        .and_then(|(_, ctx)| token::list_tokens(&ctx, &LiveTokenInfo))
                        .unwrap_or_default();
                    match present.as_slice() {
                        [t] => t.serial.clone(),
                        _ => {
                            let serials: Vec<&str> =
                                several.iter().map(|r| r.serial.as_str()).collect();
                            return Err(SignError::Choice {
                                id: "token.several",
                                message: crate::lang::Message::new(
                                    format!(
                                        "رمز ذخیره‌شده برای چند توکن رد شده است: {}.",
                                        serials.join("، ")
                                    ),
                                    format!(
                                        "the stored PIN was refused by several tokens: {}.",
                                        serials.join(", ")
                                    ),
                                ),
                                fix: crate::lang::Message::new(
                                    format!(
                                        "یکی را نام ببرید: {}",
                                        pin_guard::forget_command(serials[0])
                                    ),
                                    format!("name one: {}", pin_guard::forget_command(serials[0])),
                                ),
                            });
                        }
                    }
                }
            }
        }
    };
    if pin_guard::clear(&serial) {
        println!("the stored PIN may be used again with token {serial} / رمز ذخیره‌شده برای توکن {serial} دوباره مجاز شد");
    } else {
        println!("no refused stored PIN was recorded for token {serial} / برای توکن {serial} رمز ردشده‌ای ثبت نشده بود");
    }
    Ok(())
}

fn finish(r: Result<(), SignError>, lang: Option<Lang>) -> anyhow::Result<u8> {
    match r {
        Ok(()) => Ok(0),
        Err(e) => {
            crate::say_err!("{}", super::doctor::render_error(&e, lang));
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

fn certs(a: CertsArgs, langs: Langs) -> Result<(), SignError> {
    let want_id = a.key_id.as_deref().map(unhex).transpose()?;
    let (tokens, outcome) = if a.login {
        let cfg = SignerConfig {
            pkcs11_module: a.pkcs11_module.clone(),
            token_label: a.token_label.clone(),
            token_serial: a.token_serial.clone(),
            key_id: a.key_id.clone(),
            ..Default::default()
        };
        let opened = Pkcs11Signer::inspect(
            &cfg,
            &PinSource::Interactive,
            a.national_id.as_deref(),
            &LiveTokenInfo,
        );
        (opened.tokens, opened.signer.map(|_| ()))
    } else {
        let (_, ctx) = module::load_configured(a.pkcs11_module.as_deref())?;
        let found = token::matching_tokens(
            &ctx,
            a.token_label.as_deref(),
            a.token_serial.as_deref(),
            &LiveTokenInfo,
        )?;
        let mut out = Vec::new();
        for (slot, tok) in found {
            let session = ctx
                .open_ro_session(slot)
                .map_err(|e| module::map_error(e, "C_OpenSession"))?;
            let sel = select(
                pair(read_certificates(&session)?, None),
                &Want {
                    key_id: want_id.as_deref(),
                    national_id: a.national_id.as_deref(),
                    now: time::OffsetDateTime::now_utc(),
                    token: format!("{:?} (serial {})", tok.label, tok.serial),
                },
            );
            let note = match &sel.outcome {
                Ok(_) => crate::lang::Message::new(
                    "کلیدها بدون ورود دیده نمی‌شوند (‎--login‎).",
                    "keys are not visible without logging in (--login).",
                ),
                Err(e) => e.message(),
            };
            out.push(TokenInventory {
                token: tok,
                logged_in: false,
                note,
                certificates: sel.entries,
            });
        }
        (out, Ok(()))
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tokens).unwrap_or_default()
        );
    } else {
        print!("{}", render_inventory(&tokens, langs));
    }
    outcome
}

/// Every certificate on every token, one block per token: kind, national ID, CKA_ID, its key,
/// validity, and whether it is used (and why) or skipped (and why).
pub fn render_inventory(tokens: &[TokenInventory], l: Langs) -> String {
    use crate::crypto::cert::HolderKind;
    use std::fmt::Write as _;
    let mut out = String::new();
    if tokens.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            l.label("هیچ توکنی متصل نیست", "no token is plugged in")
        );
    }
    for t in tokens {
        let _ = writeln!(
            out,
            "{} {:?} ({} {}): {} {} — {}",
            l.label("توکن", "token"),
            t.token.label,
            l.label("سریال", "serial"),
            t.token.serial,
            t.certificates.len(),
            l.label("گواهی", "certificate(s)"),
            l.text(&t.note)
        );
        for e in &t.certificates {
            let mark = if e.chosen { "=>" } else { "  " };
            let key = match &e.key {
                KeyState::Present { key_id, .. } if *key_id == e.cert.id_hex => {
                    l.label("دارد", "present")
                }
                KeyState::Present { key_id, .. } => {
                    format!("{} (CKA_ID {key_id})", l.label("دارد", "present"))
                }
                KeyState::Missing => l.label("ندارد", "MISSING"),
                KeyState::NotLoggedIn => l.label("بررسی نشد (‎--login‎)", "not checked (--login)"),
            };
            let _ = writeln!(
                out,
                "{mark} CKA_ID {}  {}  label {:?}",
                if e.cert.id_hex.is_empty() {
                    "(empty)"
                } else {
                    &e.cert.id_hex
                },
                e.kind.as_str(),
                e.cert.label
            );
            match &e.cert.info {
                Some(i) => {
                    let kind = match i.kind {
                        HolderKind::Individual => l.label("حقیقی (کد ملی)", "individual"),
                        HolderKind::Legal => l.label("حقوقی (شناسه ملی)", "legal"),
                        HolderKind::Unknown => l.label("نامعلوم", "unknown"),
                    };
                    let _ = writeln!(out, "     {}: {}", l.label("صاحب", "subject"), i.subject);
                    let _ = writeln!(
                        out,
                        "     {}: {kind} {}",
                        l.label("شناسه ملی", "national ID"),
                        i.national_id.as_deref().unwrap_or("-")
                    );
                    let _ = writeln!(
                        out,
                        "     {}: {} .. {}",
                        l.label("اعتبار", "valid"),
                        format_sig_t(i.not_before),
                        format_sig_t(i.not_after)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "     ({})",
                        l.label("گواهی X.509 خوانا نیست", "not a readable X.509 certificate")
                    );
                }
            }
            let _ = writeln!(out, "     {}: {key}", l.label("کلید خصوصی", "private key"));
            if e.chosen {
                let _ = writeln!(out, "     {}", l.text(&e.note));
            } else if !e.note.en.is_empty() {
                let _ = writeln!(
                    out,
                    "     {}: {}",
                    l.label("کنار گذاشته شد", "skipped"),
                    l.text(&e.note)
                );
            }
        }
    }
    out
}
