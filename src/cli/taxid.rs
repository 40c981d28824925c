//! `moadian taxid`: make a tax ID (شماره منحصر به فرد مالیاتی) from memory ID, date and serial,
//! or check one and show what it is made of (memory ID, UTC and Jalali day, serial).

use super::Global;
use crate::invoice::ids::{IdError, MemoryId};
use crate::invoice::jalali;
use crate::invoice::taxid::{inno_for_serial, TaxId, MAX_SERIAL};
use crate::lang::{Lang, Message};

#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("when").args(["indatim", "date"]).multiple(false)),
    after_help = "Examples:\n  moadian taxid --memory-id A11216 --indatim 1683997837988 --serial 49321217\n  moadian taxid --memory-id A11216 --date 1402/02/23 --serial 49321217\n  moadian taxid --check A1121604C220002F095011"
)]
pub struct Args {
    /// Check this tax ID (exit 0 when valid, 1 when not) and show its parts.
    #[arg(long, value_name = "TAXID", conflicts_with_all = ["memory_id", "indatim", "date", "serial"])]
    pub check: Option<String>,
    /// The fiscal memory ID (شناسه یکتای حافظه مالیاتی), 6 characters, e.g. A11216.
    #[arg(long, value_name = "M", required_unless_present = "check")]
    pub memory_id: Option<String>,
    /// The invoice's issue time (indatim) in Unix milliseconds; its UTC day goes in the tax ID.
    #[arg(long, value_name = "MS", required_unless_present_any = ["check", "date"])]
    pub indatim: Option<i64>,
    /// The issue day instead of --indatim: Jalali (1405/08/29) or Gregorian (2026-11-20); a
    /// time or instant counts by its UTC day.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// The memory's serial for this invoice (decimal, or hex with 0x), at most 0xFFFFFFFFFF.
    #[arg(long, value_name = "N", required_unless_present = "check", value_parser = parse_serial)]
    pub serial: Option<u64>,
}

fn parse_serial(s: &str) -> Result<u64, String> {
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    }
    .map_err(|e| format!("not a serial number: {e}"))?;
    if n > MAX_SERIAL {
        return Err(format!(
            "serial {n} is larger than 10 hex digits allow ({MAX_SERIAL})"
        ));
    }
    Ok(n)
}

/// Prints a message in the chosen language, or Persian with English beneath when unset.
fn say(global: &Global, m: &Message) {
    match global.lang.single() {
        Some(l) => println!("{}", m.get(l)),
        None => {
            println!("{}", m.fa);
            println!("{}", m.en);
        }
    }
}

fn label(global: &Global, fa: &str, en: &str) -> String {
    match global.lang.single() {
        Some(Lang::Fa) => fa.to_string(),
        Some(Lang::En) => en.to_string(),
        None => format!("{fa} / {en}"),
    }
}

pub async fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    if let Some(t) = &args.check {
        return Ok(check(t, global));
    }
    // clap guarantees these when --check is absent.
    let (Some(m), Some(serial)) = (&args.memory_id, args.serial) else {
        crate::say_err!("error: --memory-id and --serial are required (or --check TAXID)");
        return Ok(2);
    };
    let memory = match MemoryId::parse(m) {
        Ok(m) => m,
        Err(e) => return Ok(usage_error(global, &e.message())),
    };
    let indatim = match (args.indatim, &args.date) {
        (Some(ms), _) => ms,
        (None, Some(d)) => match super::dates::parse(d) {
            Ok(when) => when.utc_start(),
            Err(m) => return Ok(usage_error(global, &m)),
        },
        (None, None) => {
            crate::say_err!("error: give --indatim MS or --date DATE (1405/08/29 or 2026-11-20)");
            return Ok(2);
        }
    };
    let taxid = match TaxId::generate(&memory, indatim, serial) {
        Ok(t) => t,
        Err(e) => return Ok(usage_error(global, &e.message())),
    };
    let parts = taxid.decode();
    describe(global, &parts, None);
    println!(
        "{}: {}",
        label(global, "inno", "inno"),
        inno_for_serial(serial)
    );
    println!("{taxid}");
    Ok(0)
}

fn usage_error(global: &Global, m: &Message) -> u8 {
    match global.lang.single() {
        Some(l) => crate::say_err!("error: {}", m.get(l)),
        None => {
            crate::say_err!("خطا: {}", m.fa);
            crate::say_err!("error: {}", m.en);
        }
    }
    2
}

/// Prints memory ID, day (UTC and Jalali) and serial.
fn describe(global: &Global, parts: &crate::invoice::taxid::TaxIdParts, check: Option<(u8, u8)>) {
    let day = i64::from(parts.day_since_epoch);
    let (gy, gm, gd) = jalali::gregorian_from_days(day);
    let jal = jalali::jalali_from_days(day)
        .map(jalali::format_jalali)
        .unwrap_or_else(|| "-".into());
    println!(
        "{}: {}",
        label(global, "شناسه حافظه", "memory ID"),
        parts.memory_id
    );
    println!(
        "{}: {gy:04}-{gm:02}-{gd:02} UTC  ({} {jal})  [{} {day}, 0x{:05X}]",
        label(global, "روز", "day"),
        label(global, "شمسی", "Jalali"),
        label(global, "روز از ۱۹۷۰", "day since 1970"),
        parts.day_since_epoch
    );
    println!(
        "{}: {} (0x{:010X})",
        label(global, "سریال", "serial"),
        parts.serial,
        parts.serial
    );
    if let Some((found, expected)) = check {
        println!(
            "{}: {found} ({}: {expected})",
            label(global, "رقم کنترل", "check digit"),
            label(global, "درست", "expected")
        );
    }
}

fn check(taxid: &str, global: &Global) -> u8 {
    let taxid = taxid.trim();
    match TaxId::parse_unchecked(taxid) {
        Ok(u) => {
            let expected = u.parts.check_digit();
            describe(global, &u.parts, Some((u.found_check, expected)));
            if u.check_ok() {
                say(
                    global,
                    &Message::new(
                        format!("شماره مالیاتی {taxid} معتبر است."),
                        format!("tax ID {taxid} is valid."),
                    ),
                );
                0
            } else {
                let e = IdError::Checksum {
                    kind: crate::invoice::ids::IdKind::TaxId,
                    value: taxid.to_string(),
                };
                say(global, &e.message());
                say(
                    global,
                    &Message::new(
                        format!("با همین اجزا شماره درست {} است.", u.parts.to_taxid()),
                        format!(
                            "With these parts the right tax ID is {}.",
                            u.parts.to_taxid()
                        ),
                    ),
                );
                1
            }
        }
        Err(e) => {
            say(global, &e.message());
            1
        }
    }
}
