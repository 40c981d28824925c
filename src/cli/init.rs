//! `moadian init`: write a commented `moadian.toml` for one taxpayer — memory ID, national ID,
//! economic number, endpoint and signer, from flags or (on a terminal) asked one by one — then
//! run `moadian doctor` on it. An existing file is never overwritten without `--force`.

use super::signer_args::{ProfileArgs, SignerArgs, TaxpayerArgs};
use super::Global;
use crate::invoice::ids::EconomicCode;
use crate::invoice::MemoryId;
use crate::lang::Message;
use anyhow::Context as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Memory ID (شناسه یکتای حافظه مالیاتی, from کارپوشه), e.g. A11216.
    #[arg(long, value_name = "ID")]
    pub memory_id: Option<String>,
    /// The taxpayer's national ID (11 digits) or national code (10 digits).
    #[arg(long, value_name = "ID")]
    pub national_id: Option<String>,
    /// Economic number (شماره اقتصادی); default for a legal person: its national ID.
    #[arg(long, value_name = "CODE")]
    pub economic_code: Option<String>,
    /// production, tax-sandbox, sandbox (built-in) or a base URL (e.g. of `moadian sandbox serve`).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Name of the profile in the file.
    #[arg(long, value_name = "NAME", default_value = "main")]
    pub name: String,
    /// File to write (default: moadian.toml in the user's config directory).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Do not run `moadian doctor` afterwards.
    #[arg(long)]
    pub no_doctor: bool,
    /// Run only doctor's local checks (token, PIN, certificate) afterwards.
    #[arg(long)]
    pub offline: bool,
}

/// The default place of the file `init` writes.
pub fn default_out() -> PathBuf {
    crate::config::default_paths()
        .pop()
        .unwrap_or_else(|| PathBuf::from(crate::config::FILE_NAME))
}

/// One value: the flag, else asked on a terminal, else an error naming the flag.
fn value(
    given: &Option<String>,
    flag: &str,
    question: &Message,
    default: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(v) = given {
        return Ok(v.trim().to_string());
    }
    if !std::io::stdin().is_terminal() {
        if let Some(d) = default {
            return Ok(d.to_string());
        }
        anyhow::bail!("{flag} is needed (no terminal to ask on) / {flag} لازم است");
    }
    let shown = default.map(|d| format!(" [{d}]")).unwrap_or_default();
    crate::say_err_part!("{} / {}{shown}: ", question.fa, question.en);
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    match (line.is_empty(), default) {
        (true, Some(d)) => Ok(d.to_string()),
        (true, None) => anyhow::bail!("{flag} is needed / {flag} لازم است"),
        (false, _) => Ok(line.to_string()),
    }
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The file's text: the profile with a comment on every line.
pub fn render(
    name: &str,
    memory_id: &str,
    national_id: &str,
    economic_code: &str,
    endpoint: &str,
    signer: &crate::crypto::SignerConfig,
) -> String {
    let mut t = String::new();
    t.push_str("# moadian.toml — written by `moadian init`. See examples/moadian.toml for more.\n");
    t.push_str(
        "# Several taxpayers can live here: add [profiles.OTHER] and pick it with --profile.\n\n",
    );
    t.push_str(&format!("default_profile = {}\n\n", quoted(name)));
    t.push_str(&format!("[profiles.{}]\n", quoted(name)));
    t.push_str(&format!(
        "memory_id = {}          # شناسه یکتای حافظه مالیاتی (from کارپوشه)\n",
        quoted(memory_id)
    ));
    t.push_str(&format!(
        "national_id = {}   # the owner's national ID/code: the signing certificate must carry it\n",
        quoted(national_id)
    ));
    t.push_str(&format!(
        "economic_code = {} # شماره اقتصادی (tins of the invoices)\n",
        quoted(economic_code)
    ));
    t.push_str(&format!(
        "endpoint = {}        # production | tax-sandbox | sandbox (built-in) | a base URL\n",
        quoted(endpoint)
    ));
    t.push_str("batch_size = 1000                # invoices per request (at most 1000)\n");
    t.push_str("# queue = \"/path/to/queue.sqlite\"   # default: the user's data directory\n\n");
    t.push_str(&format!("[profiles.{}.signer]\n", quoted(name)));
    if let Some(k) = &signer.key_file {
        t.push_str("# A key file (PKCS#8/PKCS#1 PEM, or PKCS#12 .pfx/.p12) and its certificate.\n");
        t.push_str(&format!(
            "key_file = {}\n",
            quoted(&k.display().to_string())
        ));
        if let Some(c) = &signer.cert_file {
            t.push_str(&format!(
                "cert_file = {}\n",
                quoted(&c.display().to_string())
            ));
        }
    } else {
        t.push_str("# The token (PKCS#11). The PIN comes from MOADIAN_PIN or a prompt; it is never stored.\n");
        match &signer.pkcs11_module {
            Some(m) => t.push_str(&format!(
                "pkcs11_module = {}\n",
                quoted(&m.display().to_string())
            )),
            None => t.push_str(
                "# pkcs11_module = \"/usr/lib/libshuttle_p11v220.so\"   # unset: the known ePass3003 names are tried\n",
            ),
        }
        match &signer.token_label {
            Some(l) => t.push_str(&format!("token_label = {}\n", quoted(l))),
            None => t.push_str("# token_label = \"ePass3003\"   # see `moadian token list`\n"),
        }
        if let Some(s) = &signer.token_serial {
            t.push_str(&format!("token_serial = {}\n", quoted(s)));
        }
        match &signer.key_id {
            Some(k) => t.push_str(&format!("key_id = {}\n", quoted(k))),
            None => t.push_str("# key_id = \"01\"   # CKA_ID, see `moadian token certs`\n"),
        }
    }
    t
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let out = args.out.clone().unwrap_or_else(default_out);
    if out.exists() && !args.force {
        anyhow::bail!(
            "{} exists; nothing was changed. Use --force to replace it, or --out FILE / فایل {} وجود دارد و تغییری نکرد؛ برای جایگزینی ‎--force‎ یا برای فایل دیگر ‎--out‎ بدهید",
            out.display(),
            out.display()
        );
    }
    let memory_id = value(
        &args.memory_id,
        "--memory-id",
        &Message::new("شناسه یکتای حافظه مالیاتی", "memory ID"),
        None,
    )?;
    let m = MemoryId::parse(&memory_id).map_err(|e| {
        let m = e.message();
        anyhow::anyhow!("--memory-id: {m}")
    })?;
    let national_id = value(
        &args.national_id,
        "--national-id",
        &Message::new("شناسه ملی یا کد ملی", "national ID or code"),
        None,
    )?;
    if !matches!(national_id.len(), 10 | 11) || !national_id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!(
            "--national-id {national_id:?}: a national ID has 11 digits, a national code 10 / شناسه ملی ۱۱ رقم و کد ملی ۱۰ رقم است"
        );
    }
    let economic_code = value(
        &args.economic_code,
        "--economic-code",
        &Message::new("شماره اقتصادی", "economic number"),
        // A legal person's economic number is its national ID; a natural person's has 14 digits.
        (national_id.len() == 11).then_some(national_id.as_str()),
    )?;
    EconomicCode::parse(&economic_code).map_err(|e| {
        let m = e.message();
        anyhow::anyhow!("--economic-code: {m}")
    })?;
    let endpoint = value(
        &args.endpoint,
        "--endpoint",
        &Message::new("نشانی سامانه", "endpoint"),
        Some("production"),
    )?;
    let mut signer = args.signer.to_config();
    if !args.signer.any() && std::io::stdin().is_terminal() {
        let key = value(
            &None,
            "--key",
            &Message::new("فایل کلید (خالی: توکن)", "key file (empty: the token)"),
            Some(""),
        )?;
        if !key.is_empty() {
            signer.key_file = Some(key.into());
            let cert = value(
                &None,
                "--cert",
                &Message::new("فایل گواهی", "certificate file"),
                Some(""),
            )?;
            signer.cert_file = (!cert.is_empty()).then(|| cert.into());
        } else {
            let label = value(
                &None,
                "--token-label",
                &Message::new("برچسب توکن", "token label"),
                Some(""),
            )?;
            signer.token_label = (!label.is_empty()).then_some(label);
        }
    }
    // The profile is read later from anywhere (cron, systemd, another directory): a path given
    // relative to here is written as the absolute path it names now. A module named without a
    // directory is left to the system's library search.
    let absolute = |p: &mut Option<PathBuf>| -> anyhow::Result<()> {
        if let Some(path) = p.as_mut().filter(|p| p.is_relative()) {
            *path = std::path::absolute(&*path)
                .with_context(|| format!("cannot make {} absolute", path.display()))?;
        }
        Ok(())
    };
    absolute(&mut signer.key_file)?;
    absolute(&mut signer.cert_file)?;
    if signer
        .pkcs11_module
        .as_ref()
        .is_some_and(|m| m.components().count() > 1)
    {
        absolute(&mut signer.pkcs11_module)?;
    }
    let text = render(
        &args.name,
        m.as_str(),
        &national_id,
        &economic_code,
        &endpoint,
        &signer,
    );
    // What is written must read back as the profile asked for.
    crate::config::Config::parse(&text, &out)
        .and_then(|c| c.profile(Some(&args.name), &out).map(|_| ()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = out.with_extension("toml.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "{}: {}",
        global.lang.label("نوشته شد", "written"),
        out.display()
    );
    if args.no_doctor {
        return Ok(0);
    }
    println!(
        "{}",
        global.lang.text(&Message::new(
            format!("اجرای moadian doctor --config {} …", out.display()),
            format!("running moadian doctor --config {} …", out.display()),
        ))
    );
    let offline = args.offline
        || crate::config::Endpoint::parse(&endpoint) == crate::config::Endpoint::Sandbox;
    super::doctor::run(
        super::doctor::Args {
            offline,
            base_url: None,
            json: false,
            who: TaxpayerArgs {
                profile: ProfileArgs {
                    profile: Some(args.name.clone()),
                    config: Some(out.clone()),
                },
                ..TaxpayerArgs::default()
            },
        },
        global,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_file_reads_back() {
        let signer = crate::crypto::SignerConfig {
            token_label: Some("ePass3003".into()),
            ..Default::default()
        };
        let text = render(
            "acme",
            "A11216",
            "14003778990",
            "14003778990",
            "production",
            &signer,
        );
        let cfg = crate::config::Config::parse(&text, std::path::Path::new("m.toml")).unwrap();
        let (name, p) = cfg.profile(None, std::path::Path::new("m.toml")).unwrap();
        assert_eq!(name, "acme");
        assert_eq!(p.memory_id, "A11216");
        let s: crate::crypto::SignerConfig = p.signer_config().unwrap().unwrap();
        assert_eq!(s.token_label.as_deref(), Some("ePass3003"));
        assert!(text.contains("# pkcs11_module"), "{text}");
    }
}
