//! The inbox of `run --inbox DIR`: only finished files are taken, and none hides a failure.
//!
//! * A file is picked up only when complete: its size and modification time are the same at
//!   two looks `settle` apart (default 2 s). Writers that cannot guarantee that write
//!   `NAME.json.part` (or `.tmp`) and rename it to `NAME.json` when done; `*.part`, `*.tmp` and
//!   hidden files are never read.
//! * Taken: `*.json`, `*.jsonl`, `*.csv`, `*.xlsx`. Symbolic links are never followed: a link
//!   in the inbox is left alone (with a warning), and a `done/` or `failed/` that is a link
//!   stops the run with a clear message.
//! * After the pass, a file whose invoices all reached SUCCESS moves to `done/`; a file with
//!   any INVALID, FAILED, refused or NEEDS_ATTENTION invoice (once none of its invoices is still
//!   on its way) moves to `failed/` with `NAME.why.json` listing each invoice's status and
//!   findings; a file whose invoices are still queued, in progress or unknown stays where it is
//!   (the next pass reads it again; the queue recognises what it already holds).

use super::submit::{enqueue_paths, Placements, Refusal, Session};
use crate::lang::{Langs, Message};
use crate::pipeline::{Report, ReportStatus};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file taken from the inbox in this pass, with where its inputs went.
pub struct Taken {
    pub path: PathBuf,
    pub placements: Placements,
    /// The file that was read: the same before and after reading (`None`: it changed while
    /// it was read, and is never moved on what was read of it).
    pub seen: Option<Identity>,
}

/// Which file a name held: device, inode, size and modification time. A file written anew
/// under the same name (a new file renamed over it, or rewritten in place) has another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: SystemTime,
}

/// The identity of the regular file at `p`, without following links.
fn identity(p: &Path) -> Option<Identity> {
    let m = std::fs::symlink_metadata(p).ok()?;
    if !m.file_type().is_file() {
        return None;
    }
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    Some(Identity {
        dev,
        ino,
        len: m.len(),
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// `--inbox DIR`: DIR must be an existing directory (a mistyped one is not created).
pub fn inbox_dir(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => Ok(p),
        Ok(_) => Err(format!(
            "{s} is not a directory; give the inbox directory / {s} پوشه نیست؛ پوشهٔ صندوق ورودی را بدهید"
        )),
        Err(e) => Err(format!(
            "{s}: {e}; the inbox must be an existing directory (it is not created, so that a mistyped path is not watched in vain) / {s} وجود ندارد؛ صندوق ورودی باید پوشه‌ای موجود باشد"
        )),
    }
}

/// What happened to one file after the pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Done,
    Failed,
    Pending,
}

const TAKEN_EXTENSIONS: [&str; 4] = ["json", "jsonl", "csv", "xlsx"];

fn say(lang: Langs, fa: String, en: String) {
    crate::say_err!("{}", lang.text(&Message::new(fa, en)));
}

/// `dir/name` must be a real directory (created when missing), never a symbolic link.
fn subdir(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let p = dir.join(name);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_symlink() => anyhow::bail!(
            "{} is a symbolic link; the inbox never follows links: make it a real directory / {} یک پیوند نمادین است؛ صندوق ورودی پیوند را دنبال نمی‌کند، آن را یک پوشهٔ واقعی کنید",
            p.display(),
            p.display()
        ),
        Ok(m) if !m.is_dir() => anyhow::bail!(
            "{} is not a directory / {} پوشه نیست",
            p.display(),
            p.display()
        ),
        Ok(_) => {}
        // Only the subdirectory: an inbox that is gone is not made again.
        Err(_) => std::fs::create_dir(&p).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (is the inbox {} still there?) / پوشهٔ {} ساخته نشد؛ آیا صندوق ورودی {} هنوز وجود دارد؟",
                p.display(),
                dir.display(),
                p.display(),
                dir.display()
            )
        })?,
    }
    Ok(p)
}

/// (size, mtime) of a regular file, without following links.
fn look(p: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::symlink_metadata(p).ok()?;
    m.file_type()
        .is_file()
        .then(|| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// The finished files of the inbox, oldest name first.
pub fn finished_files(dir: &Path, settle: Duration, lang: Langs) -> anyhow::Result<Vec<PathBuf>> {
    subdir(dir, "done")?;
    subdir(dir, "failed")?;
    let mut first = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "the inbox {}: {e} / صندوق ورودی {} خوانده نشد",
            dir.display(),
            dir.display()
        )
    })?;
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ext = p
            .extension()
            .map(|x| x.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.starts_with('.') || !TAKEN_EXTENSIONS.contains(&ext.as_str()) {
            continue; // *.part, *.tmp, hidden files, anything else
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            say(
                lang,
                format!(
                    "{} یک پیوند نمادین است و خوانده نشد (صندوق ورودی پیوند را دنبال نمی‌کند).",
                    p.display()
                ),
                format!(
                    "{} is a symbolic link and was not read (the inbox never follows links).",
                    p.display()
                ),
            );
            continue;
        }
        if let Some(l) = look(&p) {
            first.push((p, l));
        }
    }
    if first.is_empty() {
        return Ok(Vec::new());
    }
    std::thread::sleep(settle);
    let mut out = Vec::new();
    for (p, l) in first {
        match look(&p) {
            Some(again) if again == l && l.0 > 0 => out.push(p),
            Some(_) => say(
                lang,
                format!(
                    "{} هنوز در حال نوشته شدن است؛ در اجرای بعدی برداشته می‌شود.",
                    p.display()
                ),
                format!(
                    "{} is still being written; it is taken in a later pass.",
                    p.display()
                ),
            ),
            None => {}
        }
    }
    out.sort();
    Ok(out)
}

/// Enqueues each finished file; the placements per file.
pub fn take(
    session: &Session,
    queue: &impl moadian_queue::Store,
    files: Vec<PathBuf>,
    lang: Langs,
) -> anyhow::Result<Vec<Taken>> {
    let mut out = Vec::new();
    for f in files {
        let before = identity(&f);
        let placements = match enqueue_paths(session, queue, std::slice::from_ref(&f), false, lang)
        {
            Ok(p) => p,
            // Removed since the look that found it finished (while an earlier file was read):
            // named, left out; whatever was read of it before it went stays queued.
            // (A failing queue stops the pass whatever became of the file.)
            Err(e) if identity(&f).is_none() && super::queue_errors(&e).next().is_none() => {
                let name = f.file_name().unwrap_or_default().to_string_lossy();
                say(
                    lang,
                    format!("{name} پیش از خوانده شدن از صندوق ورودی برداشته شد و در این اجرا کنار گذاشته شد."),
                    format!("{name} was removed from the inbox before it was read; it is left out of this pass."),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let after = identity(&f);
        out.push(Taken {
            path: f,
            placements,
            seen: before.filter(|b| Some(*b) == after),
        });
    }
    Ok(out)
}

/// A free name for `name` in `dir` (a timestamp added when taken).
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    if std::fs::symlink_metadata(&target).is_err() {
        return target;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
    dir.join(format!("{name}.{stamp}"))
}

/// Where one file stands after the pass.
pub fn judge(report: &Report, refused: &[Refusal]) -> Settled {
    let open = report.invoices.iter().any(|i| {
        matches!(
            i.status,
            ReportStatus::Queued | ReportStatus::InProgress | ReportStatus::Unknown
        )
    });
    if open {
        Settled::Pending
    } else if refused.is_empty() && report.all_success() {
        Settled::Done
    } else {
        Settled::Failed
    }
}

/// Moves the file that was read (`seen`) from `from` to `to`. `Ok(false)`: the name now holds
/// another file (or none), which is left where it is. A file that slipped in under the name
/// between the look and the move is put back.
fn move_seen(from: &Path, to: &Path, seen: Option<Identity>) -> std::io::Result<bool> {
    let Some(seen) = seen else {
        return Ok(false);
    };
    if identity(from) != Some(seen) {
        return Ok(false);
    }
    std::fs::rename(from, to)?;
    if identity(to) == Some(seen) {
        return Ok(true);
    }
    // Replaced in the instant between the look and the move: the moved file is the new one.
    let back = if std::fs::symlink_metadata(from).is_err() {
        from.to_path_buf()
    } else {
        let name = from.file_name().unwrap_or_default().to_string_lossy();
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
        from.with_file_name(format!("{stamp}-{name}"))
    };
    std::fs::rename(to, back)?;
    Ok(false)
}

/// Why a taken file was not moved.
fn not_moved(lang: Langs, t: &Taken, name: &str) {
    if identity(&t.path).is_none() {
        say(
            lang,
            format!("{name} در این اجرا از صندوق ورودی برداشته یا جابه‌جا شد؛ صورتحساب‌های آن در صف می‌مانند و به done/ یا failed/ نمی‌رود."),
            format!("{name} was removed or moved from the inbox during the pass; its invoices stay in the queue, and it is not moved to done/ or failed/."),
        );
    } else {
        say(
            lang,
            format!("{name} در این اجرا با پرونده‌ای تازه جایگزین یا بازنویسی شد؛ پروندهٔ تازه در اجرای بعدی خوانده می‌شود و پیش از آن جابه‌جا نمی‌شود."),
            format!("{name} was replaced or rewritten during the pass; the new file is read in the next pass and is not moved before that."),
        );
    }
}

/// What settling the taken files came to.
#[derive(Default)]
pub struct Settlement {
    /// The refusals of all files.
    pub refused: Vec<Refusal>,
    /// Files that could not be moved for an error (each said, naming the file).
    pub unmoved: usize,
    /// Files judged failed: some invoice INVALID, FAILED, CONFLICT or NEEDS_ATTENTION.
    pub failed: usize,
}

/// After the pass: moves each taken file to `done/` or `failed/` (with `NAME.why.json`), or
/// leaves it; only the file that was read is ever moved.
pub fn settle(
    dir: &Path,
    queue: &impl moadian_queue::Store,
    taken: Vec<Taken>,
    lang: Langs,
) -> anyhow::Result<Settlement> {
    let done = subdir(dir, "done")?;
    let failed = subdir(dir, "failed")?;
    let mut all_refused = Vec::new();
    let mut errors = 0;
    let mut failed_files = 0;
    for t in taken {
        let (report, refused) = t.placements.collect(queue)?;
        all_refused.extend(refused.iter().cloned());
        let name = t
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let moved = match judge(&report, &refused) {
            Settled::Pending => continue,
            Settled::Done => move_seen(&t.path, &free_name(&done, &name), t.seen),
            Settled::Failed => {
                failed_files += 1;
                let target = free_name(&failed, &name);
                let why_name = format!(
                    "{}.why.json",
                    target.file_name().unwrap_or_default().to_string_lossy()
                );
                let why = serde_json::json!({
                    "file": name,
                    "invoices": report.invoices,
                    "summary": report.summary,
                    "refused": refused,
                });
                // The explanation is complete on disk before the file moves.
                let tmp = failed.join(format!(".{why_name}.part"));
                let moved = std::fs::write(&tmp, serde_json::to_vec_pretty(&why)?)
                    .and_then(|()| std::fs::rename(&tmp, failed.join(&why_name)))
                    .and_then(|()| move_seen(&t.path, &target, t.seen));
                if matches!(moved, Ok(true)) {
                    say(
                        lang,
                        format!("{name}: صورتحساب نامعتبر، ناموفق، متعارض یا نیازمند بررسی دارد؛ به failed/ رفت، دلیل در failed/{why_name}"),
                        format!("{name}: has INVALID, FAILED, CONFLICT or NEEDS_ATTENTION invoices; moved to failed/, reasons in failed/{why_name}"),
                    );
                } else {
                    let _ = std::fs::remove_file(failed.join(&why_name));
                }
                moved
            }
        };
        match moved {
            Ok(true) => {}
            Ok(false) => not_moved(lang, &t, &name),
            Err(e) => {
                errors += 1;
                say(
                    lang,
                    format!("{name} جابه‌جا نشد: {e}؛ در صندوق ورودی می‌ماند و در اجرای بعدی دوباره بررسی می‌شود."),
                    format!("{name} could not be moved: {e}; it stays in the inbox and is looked at again in the next pass."),
                );
            }
        }
    }
    Ok(Settlement {
        refused: all_refused,
        unmoved: errors,
        failed: failed_files,
    })
}
