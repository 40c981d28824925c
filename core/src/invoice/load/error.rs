//! Why an invoice or a file could not be read, in Persian and English, with its position.

use crate::lang::Message;

/// Why an invoice (or a whole file) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be opened or read.
    #[error("{path}: cannot read: {message}")]
    Io { path: String, message: String },
    /// Not valid JSON at the given position (1-based line and column in the file).
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON, but not an invoice object (e.g. a number or a string).
    #[error("{path}:{line}:{column}: expected an invoice object, found {found}")]
    NotAnInvoice {
        path: String,
        line: usize,
        column: usize,
        found: &'static str,
    },
    /// The file holds no invoice at all.
    #[error("{path}: the file holds no invoice")]
    Empty { path: String },
    /// A key appears twice in one JSON object (EC_V02 table 7 row 1).
    #[error("{path}:{line}:{column}: duplicate key {key}")]
    DuplicateKey {
        path: String,
        line: usize,
        column: usize,
        key: String,
    },
    /// The file (or one JSON Lines line) is larger than the limit.
    #[error("{path}: larger than the limit of {limit} bytes")]
    TooLarge {
        path: String,
        /// 1-based line, for a JSON Lines line.
        line: Option<usize>,
        limit: u64,
    },
    /// A value is longer than the field limit.
    #[error("{path}: {field} is {length} characters long, more than the limit of {limit}")]
    FieldTooLong {
        path: String,
        field: String,
        length: usize,
        limit: usize,
    },
    /// A spreadsheet row could not be turned into an invoice (the importer's words).
    #[error("{0}")]
    Import(crate::lang::Message),
    /// The same error naming its input otherwise (see [`LoadError::named`]).
    #[error("{}", .message.en)]
    Named {
        inner: Box<LoadError>,
        message: Message,
    },
}

impl LoadError {
    /// What went wrong and what to do, in Persian and English.
    pub fn message(&self) -> Message {
        match self {
            LoadError::Io { path, message } => Message::new(
                format!("فایل «{path}» خوانده نشد: {message}. مسیر و دسترسی فایل را بررسی کنید."),
                format!("cannot read {path}: {message}. Check the path and the file's permissions."),
            ),
            LoadError::Syntax {
                path,
                line,
                column,
                message,
            } => Message::new(
                format!(
                    "فایل «{path}» در سطر {line} ستون {column} JSON معتبر نیست ({message}). آن‌جا را اصلاح کنید."
                ),
                format!(
                    "{path} is not valid JSON at line {line}, column {column} ({message}). Fix the text there."
                ),
            ),
            LoadError::NotAnInvoice {
                path,
                line,
                column,
                found,
            } => Message::new(
                format!(
                    "در فایل «{path}» سطر {line} ستون {column} به جای شیء صورتحساب ({{\"header\":…}}) مقدار دیگری ({found}) آمده است."
                ),
                format!(
                    "{path} line {line}, column {column}: expected an invoice object ({{\"header\":…}}), found {found}."
                ),
            ),
            LoadError::Empty { path } => Message::new(
                format!("فایل «{path}» هیچ صورتحسابی ندارد."),
                format!("{path} holds no invoice."),
            ),
            LoadError::DuplicateKey {
                path,
                line,
                column,
                key,
            } => Message::new(
                format!(
                    "فایل «{path}» سطر {line} ستون {column}: فیلد {key} در یک شیء تکرار شده است؛ فقط یکی را نگه دارید (کد سامانه: «فیلد … تکرار شده است»)."
                ),
                format!(
                    "{path} line {line}, column {column}: key {key} appears twice in one object; keep only one (the tax system refuses a repeated field)."
                ),
            ),
            LoadError::TooLarge { path, line, limit } => {
                let mib = (*limit >> 20).max(1);
                let (fa_what, en_what) = match line {
                    Some(l) => (format!("سطر {l} فایل «{path}»"), format!("{path} line {l}")),
                    None => (format!("فایل «{path}»"), path.clone()),
                };
                Message::new(
                    format!("{fa_what} از سقف {mib} مگابایت بزرگ‌تر است؛ آن را به چند فایل بشکنید یا سقف را با --max-file-mib بالا ببرید."),
                    format!("{en_what} is larger than the limit of {mib} MiB; split it, or raise the limit with --max-file-mib."),
                )
            }
            LoadError::FieldTooLong {
                path,
                field,
                length,
                limit,
            } => Message::new(
                format!("در فایل «{path}» مقدار {field} {length} نویسه است، بیش از سقف {limit}؛ آن را کوتاه کنید (یا سقف را با --max-field-chars بالا ببرید)."),
                format!("{path}: {field} is {length} characters long, more than the limit of {limit}; shorten it (or raise the limit with --max-field-chars)."),
            ),
            LoadError::Import(m) => m.clone(),
            LoadError::Named { message, .. } => message.clone(),
        }
    }

    /// The same error with its input named `shown` (in each language) wherever its message
    /// names `path`: what a person sent (an upload's body, its own file name) rather than the
    /// file it was kept in meanwhile. Its kind and position stay.
    pub fn named(self, path: &str, shown: &Message) -> LoadError {
        let m = self.message();
        let message = Message::new(m.fa.replace(path, &shown.fa), m.en.replace(path, &shown.en));
        LoadError::Named {
            inner: Box::new(self),
            message,
        }
    }

    /// The error itself, past any renaming.
    pub fn kind(&self) -> &LoadError {
        match self {
            LoadError::Named { inner, .. } => inner.kind(),
            e => e,
        }
    }

    /// Line and column in the file, when the error has a position.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            LoadError::Syntax { line, column, .. }
            | LoadError::NotAnInvoice { line, column, .. }
            | LoadError::DuplicateKey { line, column, .. } => Some((*line, *column)),
            LoadError::TooLarge { line: Some(l), .. } => Some((*l, 1)),
            LoadError::Named { inner, .. } => inner.position(),
            _ => None,
        }
    }
}
