//! Invariant 1 for spreadsheets: amounts arrive exactly as typed. Text cells (CSV, XLSX) keep
//! every digit of up to 18.8 decimals; XLSX numeric cells with at most 15 significant digits
//! (below 10^15) come back as the decimal the person typed; a cell whose stored number needs
//! more is refused, never rounded.

use proptest::prelude::*;
use rust_xlsxwriter::Workbook;
use std::path::Path;

const HEAD: [&str; 10] = [
    "invoice_no",
    "indatim",
    "inty",
    "inp",
    "ins",
    "tins",
    "sstid",
    "am",
    "fee",
    "vra",
];

fn row(fee: &str) -> [String; 10] {
    [
        "1",
        "1403/08/15 10:00",
        "2",
        "1",
        "1",
        "14003778990",
        "2330001234567",
        "1",
        fee,
        "9",
    ]
    .map(String::from)
}

/// The canonical text of a decimal: no leading zeros, no trailing fractional zeros.
fn canonical(int: &str, frac: &str) -> String {
    let i = int.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let f = frac.trim_end_matches('0');
    if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    }
}

fn fee_of(path: &Path) -> Result<String, String> {
    let got = moadian::import::load_file(path);
    let v = got
        .into_iter()
        .next()
        .ok_or("no invoice")?
        .value
        .map_err(|m| m.en)?;
    Ok(v["body"][0]["fee"].to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn invariant_1_text_amounts_keep_every_digit(int in "[0-9]{1,18}", frac in "[0-9]{0,8}") {
        let dir = tempfile::tempdir().expect("tmp");
        let typed = if frac.is_empty() { int.clone() } else { format!("{int}.{frac}") };
        let p = dir.path().join("a.csv");
        let mut w = csv::Writer::from_path(&p).expect("csv");
        w.write_record(HEAD).expect("w");
        w.write_record(row(&typed)).expect("w");
        w.flush().expect("flush");
        prop_assert_eq!(fee_of(&p).expect("imports"), canonical(&int, &frac));
    }

    #[test]
    fn invariant_1_xlsx_numbers_exact_or_refused(int in "[1-9][0-9]{0,17}", frac in "[0-9]{0,8}") {
        let dir = tempfile::tempdir().expect("tmp");
        let typed = if frac.is_empty() { int.clone() } else { format!("{int}.{frac}") };
        let want = canonical(&int, &frac);
        let significant = want.replace('.', "").trim_start_matches('0').trim_end_matches('0').len();
        let p = dir.path().join("a.xlsx");
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in HEAD.iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("w");
        }
        for (c, v) in row("").iter().enumerate() {
            if c != 8 {
                ws.write_string(1, c as u16, v).expect("w");
            }
        }
        // What Excel stores for a typed number: the nearest double.
        ws.write_number(1, 8, typed.parse::<f64>().expect("f64")).expect("w");
        wb.save(&p).expect("save");
        // Excel itself keeps 15 significant digits, so a cell can only promise what it shows.
        let shown_exactly = significant <= 15 && int.trim_start_matches('0').len() <= 15;
        match fee_of(&p) {
            Ok(got) => {
                if shown_exactly {
                    prop_assert_eq!(got, want);
                } else {
                    let digits = got.replace('.', "");
                    let sig = digits.trim_start_matches('0').trim_end_matches('0').len();
                    let int_len = got.split('.').next().unwrap_or_default().len();
                    prop_assert!(sig <= 15 && int_len <= 15, "{} accepted as {}", typed, got);
                }
            }
            Err(e) => {
                prop_assert!(!shown_exactly, "{} refused: {}", typed, e);
                prop_assert!(e.contains("column I «fee»"), "{}", e);
            }
        }
    }
}
