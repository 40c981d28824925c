//! An XLSX is a zip archive; a tiny one can inflate to gigabytes (a «zip bomb»). Before the
//! workbook reader sees it, the file's size is checked, then the sizes its zip directory
//! declares, then — because a declared size can lie — every part is inflated into nothing,
//! counting, and stopped at the limit. Memory stays at one buffer whatever the file holds.

use super::limits::ReadOptions;
use crate::lang::Message;
use std::io::Read;
use std::path::Path;

fn bomb(name: &str, limit: u64) -> Message {
    Message::new(
        format!(
            "از حالت فشرده بیش از {} مگابایت می‌شود (بخش «{name}»)؛ این فایل اکسل معمولی نیست. اگر درست است، سقف را با --max-xlsx-mib بالا ببرید",
            limit >> 20
        ),
        format!(
            "inflates to more than {} MiB (part «{name}»); this is not an ordinary workbook. If it is right, raise the limit with --max-xlsx-mib",
            limit >> 20
        ),
    )
}

/// Checks an XLSX against `opts` without keeping what it inflates.
pub fn check(path: &Path, opts: &ReadOptions) -> Result<(), Message> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Message::new(format!("خوانده نشد: {e}"), format!("cannot read: {e}")))?;
    if meta.len() > opts.max_file_bytes {
        return Err(super::sheet::too_large(opts.max_file_bytes));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Message::new(format!("خوانده نشد: {e}"), format!("cannot read: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        Message::new(
            format!("فایل XLSX (zip) معتبر نیست: {e}"),
            format!("not a valid XLSX (zip) file: {e}"),
        )
    })?;
    let limit = opts.max_xlsx_bytes;
    // What the directory declares, before inflating anything.
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| {
            Message::new(
                format!("فایل XLSX (zip) معتبر نیست: {e}"),
                format!("not a valid XLSX (zip) file: {e}"),
            )
        })?;
        declared = declared.saturating_add(f.size());
        if declared > limit {
            return Err(bomb(f.name(), limit));
        }
    }
    // What it really inflates to.
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| {
            Message::new(
                format!("بخشی از فایل XLSX خوانده نشد: {e}"),
                format!("a part of the XLSX cannot be read: {e}"),
            )
        })?;
        let name = f.name().to_string();
        loop {
            let n = f.read(&mut buf).map_err(|e| {
                Message::new(
                    format!("بخش «{name}» از فایل XLSX خراب است: {e}"),
                    format!("part «{name}» of the XLSX is damaged: {e}"),
                )
            })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > limit {
                return Err(bomb(&name, limit));
            }
        }
    }
    Ok(())
}
