//! What a request carries: invoice files from the body. A JSON object or array
//! (`application/json`), JSON Lines (`application/x-ndjson`, `application/jsonl`), CSV
//! (`text/csv`), XLSX, or a `multipart/form-data` upload of several files (each part's file
//! name says its format). Limits: the body size (`--max-upload`) and the number of files.

use super::problem::Problem;
use crate::invoice::load::{load_paths_with, LoadedInvoice};
use crate::lang::Message;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};

/// At most this many files in one multipart upload.
pub const MAX_FILES: usize = 100;

/// One uploaded file: a safe name (its extension says the format) and its bytes.
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    /// The request's body itself (not a file of a multipart form).
    pub body: bool,
}

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The file name for a body of this content type.
fn name_for(content_type: &str) -> Option<&'static str> {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match base.as_str() {
        "application/json" | "" => "request.json",
        "application/x-ndjson"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "application/json-seq" => "request.jsonl",
        "text/csv" => "request.csv",
        XLSX_MIME => "request.xlsx",
        _ => return None,
    })
}

/// A file name reduced to safe characters, keeping its extension; refused when the extension
/// is not an invoice format.
pub fn safe_name(raw: &str) -> Result<String, Problem> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    let ext = clean.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    if !clean.contains('.') || !matches!(ext.as_str(), "json" | "jsonl" | "ndjson" | "csv" | "xlsx")
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-file",
            "Unsupported file",
            Message::new(
                format!("فایل «{base}» پشتیبانی نمی‌شود: پسوند باید json، jsonl، ndjson، csv یا xlsx باشد."),
                format!("file \"{base}\" is not supported: the extension must be json, jsonl, ndjson, csv or xlsx."),
            ),
        ));
    }
    Ok(clean)
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Upload too large",
        Message::new(
            format!("حجم بارگذاری از حد {limit} بایت بیشتر است؛ فایل را کوچک‌تر کنید یا سرویس را با ‎--max-upload‎ بزرگ‌تر اجرا کنید. چیزی ثبت نشد."),
            format!("the upload is larger than the limit of {limit} bytes; split the file, or start the service with a larger --max-upload. Nothing was recorded."),
        ),
    )
}

/// Reads every file of the request (nothing is recorded here).
pub async fn read(req: Request, limit: usize) -> Result<Vec<Upload>, Problem> {
    read_form(req, limit).await.map(|(files, _)| files)
}

/// At most this many plain fields (not files) in a multipart form, each this long.
const MAX_FIELDS: usize = 20;
const MAX_FIELD_BYTES: usize = 4096;

/// Reads every file of the request, and the plain fields of a multipart form (a browser's
/// upload form carries its CSRF token and choices that way).
pub async fn read_form(
    req: Request,
    limit: usize,
) -> Result<(Vec<Upload>, Vec<(String, String)>), Problem> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let name_query = super::query_param(req.uri(), "name")?;
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let mut mp = Multipart::from_request(req, &()).await.map_err(|e| {
            Problem::bad_request(Message::new(
                format!("بارگذاری چندبخشی خوانده نشد: {e}"),
                format!("the multipart upload could not be read: {e}"),
            ))
        })?;
        let mut files = Vec::new();
        let mut fields = Vec::new();
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(limit))
                }
                Err(e) => {
                    return Err(Problem::bad_request(Message::new(
                        format!("بارگذاری چندبخشی خوانده نشد: {e}"),
                        format!("the multipart upload could not be read: {e}"),
                    )))
                }
            };
            let Some(file_name) = field.file_name().map(str::to_string) else {
                // A plain form field (a CSRF token, a choice), not a file.
                let name = field.name().unwrap_or_default().to_string();
                let value = field.text().await.unwrap_or_default();
                if fields.len() < MAX_FIELDS && value.len() <= MAX_FIELD_BYTES {
                    fields.push((name, value));
                }
                continue;
            };
            if file_name.is_empty() {
                continue; // a file input left empty
            }
            if files.len() == MAX_FILES {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-many-files",
                    "Too many files",
                    Message::new(
                        format!(
                            "در یک بارگذاری حداکثر {MAX_FILES} فایل پذیرفته می‌شود. چیزی ثبت نشد."
                        ),
                        format!("at most {MAX_FILES} files per upload. Nothing was recorded."),
                    ),
                ));
            }
            let name = safe_name(&file_name)?;
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(limit))
                }
                Err(e) => {
                    return Err(Problem::bad_request(Message::new(
                        format!("فایل «{name}» خوانده نشد: {e}"),
                        format!("file \"{name}\" could not be read: {e}"),
                    )))
                }
            };
            files.push(Upload {
                name,
                bytes: bytes.to_vec(),
                body: false,
            });
        }
        if files.is_empty() {
            return Err(Problem::bad_request(Message::new(
                "بارگذاری هیچ فایلی نداشت.",
                "the upload carried no file.",
            )));
        }
        return Ok((files, fields));
    }
    let name = match name_query {
        Some(n) => safe_name(&n)?,
        None => name_for(&content_type)
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    Message::new(
                        format!("نوع محتوای «{content_type}» پشتیبانی نمی‌شود: application/json، application/x-ndjson، text/csv، XLSX یا multipart/form-data بفرستید."),
                        format!("content type \"{content_type}\" is not supported: send application/json, application/x-ndjson, text/csv, XLSX or multipart/form-data."),
                    ),
                )
            })?
            .to_string(),
    };
    let bytes = match Bytes::from_request(req, &()).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(limit)),
        Err(e) => {
            return Err(Problem::bad_request(Message::new(
                format!("بدنه درخواست خوانده نشد: {e}"),
                format!("the request body could not be read: {e}"),
            )))
        }
    };
    if bytes.is_empty() {
        return Err(Problem::bad_request(Message::new(
            "بدنه درخواست خالی است: صورتحساب‌ها را بفرستید.",
            "the request body is empty: send the invoices.",
        )));
    }
    Ok((
        vec![Upload {
            name,
            bytes: bytes.to_vec(),
            body: true,
        }],
        Vec::new(),
    ))
}

/// Uploaded files written to a private folder under the uploads folder (so every format,
/// spreadsheets included, is read by the same loader as files given to the command line);
/// removed when dropped unless [`Staged::keep`] moved the files out.
pub struct Staged {
    dir: std::path::PathBuf,
    pub paths: Vec<std::path::PathBuf>,
    /// What the person sent as each of `paths`: the request body, or the file's own name.
    shown: Vec<Message>,
    /// Removed when dropped (a staging folder); a pending upload waiting for the person's
    /// confirmation is not.
    armed: bool,
}

impl Staged {
    pub fn write(uploads: &std::path::Path, files: Vec<Upload>) -> Result<Staged, Problem> {
        let dir = uploads.join(format!(".staging-{}", uuid::Uuid::new_v4().simple()));
        Self::write_in(dir, files)
    }

    /// Writes the files into `dir` (a new folder).
    pub fn write_in(dir: std::path::PathBuf, files: Vec<Upload>) -> Result<Staged, Problem> {
        use std::io::Write;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Problem::internal(format!("{}: {e}", dir.display())))?;
        let mut staged = Staged {
            dir,
            paths: Vec::new(),
            shown: Vec::new(),
            armed: true,
        };
        for (i, f) in files.into_iter().enumerate() {
            let path = staged.dir.join(format!("{stamp}-{i}-{}", f.name));
            let write = || -> std::io::Result<()> {
                let mut out = std::fs::File::create(&path)?;
                out.write_all(&f.bytes)?;
                out.sync_all()
            };
            write().map_err(|e| Problem::internal(format!("{}: {e}", path.display())))?;
            staged.paths.push(path);
            staged.shown.push(if f.body {
                Message::new("بدنهٔ درخواست", "the request body")
            } else {
                Message::new(f.name.clone(), f.name)
            });
        }
        Ok(staged)
    }

    /// The invoices of the staged files, named without the staging folder; a file or line
    /// that cannot be read is named as the person sent it (the request body, or the file's own
    /// name), never by the staging file that is gone once the request is answered.
    pub fn load(
        &self,
        opts: &crate::import::limits::ReadOptions,
    ) -> impl Iterator<Item = LoadedInvoice> + '_ {
        let prefix = format!("{}/", self.dir.display());
        let named: Vec<(String, &Message)> = self
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .zip(&self.shown)
            .collect();
        load_paths_with(&self.paths, opts.clone()).map(move |mut l| {
            if l.value.is_err() {
                // The longest staged path the source starts with is its file.
                let file = named
                    .iter()
                    .filter(|(p, _)| l.source.starts_with(p.as_str()))
                    .max_by_key(|(p, _)| p.len());
                if let Some((path, shown)) = file {
                    let rest = l.source[path.len()..].to_string();
                    l.source = format!("{}{rest}", shown.en);
                    if let Err(e) = l.value {
                        l.value = Err(e.named(path, shown));
                    }
                    return l;
                }
            }
            if let Some(rest) = l.source.strip_prefix(&prefix) {
                l.source = rest.to_string();
            }
            l
        })
    }

    /// Moves the files into the uploads folder (a rename: never a half-written file there).
    pub fn keep(mut self, uploads: &std::path::Path) -> Result<Vec<std::path::PathBuf>, Problem> {
        // The folder goes once its files are moved out.
        self.armed = true;
        let mut kept = Vec::new();
        for p in std::mem::take(&mut self.paths) {
            let to = uploads.join(p.file_name().unwrap_or_default());
            std::fs::rename(&p, &to)
                .map_err(|e| Problem::internal(format!("{}: {e}", to.display())))?;
            kept.push(to);
        }
        Ok(kept)
    }
}

impl Staged {
    /// The files of a folder written before (a pending upload), in name order; not removed
    /// when dropped.
    pub fn open(dir: std::path::PathBuf) -> std::io::Result<Staged> {
        let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        // Written by `write_in` as `{stamp}-{index}-{name}`.
        let shown = paths
            .iter()
            .map(|p| {
                let file = p.file_name().unwrap_or_default().to_string_lossy();
                let name = file.splitn(3, '-').nth(2).unwrap_or(&file).to_string();
                Message::new(name.clone(), name)
            })
            .collect();
        Ok(Staged {
            dir,
            paths,
            shown,
            armed: false,
        })
    }

    /// Keeps the folder when dropped.
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Removes the folder and what is left in it.
    pub fn remove(mut self) {
        self.armed = true;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
