//! `moadian man`: the manual pages (roff). `moadian man` prints the main page, `moadian man
//! COMMAND` one command's page, `moadian man --dir DIR` writes every page (`moadian.1`,
//! `moadian-submit.1`, …) into DIR, as the main page's SEE ALSO list names them.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command whose page to print (e.g. `submit`); the main page when left out.
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page into this directory (it must exist) instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The EXIT STATUS section every page ends with (the codes are the same for every command).
const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Everything asked for was done: every invoice SUCCESS (or valid, for validate), every check
passed. For run, also a pass on a queue that holds no invoice yet.
.TP
\fB1\fR
Some invoice is INVALID, FAILED, CONFLICT, NEEDS_ATTENTION or not final yet; a check failed;
a request was refused (the token, the preflight, the queue); or an error stopped the command.
The message says which, in Persian and English. For run, what its pass owns: an invoice not
final yet or NEEDS_ATTENTION, one that became INVALID or FAILED during the pass, an inbox file
refused, sent to failed/ or not moved; an older INVALID or FAILED invoice is listed only.
For inquire, an invoice asked about that the server does not hold (NOT_FOUND), will not show
(ACCESS_DENIED) or, by uid or reference number, that is not SUCCESS.
.TP
\fB2\fR
Usage error: an unknown flag or command, a value that cannot be read (a date, a duration, an
endpoint, a status name), a path that must exist and does not. Nothing was done.
.TP
\fB3\fR
The tax server could not be reached (network down or server failing) for \-\-deadline, default
5 minutes from the first failure (submit, run, resend), or a PostgreSQL queue's server could
not be reached: the command stopped by itself and the queue is intact; run it again later.
"#;

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut root = <super::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    root.build();
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            crate::say_err!(
                "error: {} is not a directory (make it first)\nخطا: {} پوشه نیست (نخست آن را بسازید)",
                dir.display(),
                dir.display()
            );
            return Ok(2);
        }
        write_all(&root, dir)?;
        return Ok(0);
    }
    let cmd = match &args.command {
        None => root,
        Some(name) => match find(&root, name) {
            Some(c) => c,
            None => {
                let names: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
                crate::say_err!(
                    "error: no command «{name}»; pages: {}\nخطا: فرمانی به نام «{name}» نیست",
                    names.join(", ")
                );
                return Ok(2);
            }
        },
    };
    let mut out = std::io::stdout().lock();
    render(&cmd, &mut out)?;
    out.flush()?;
    Ok(0)
}

/// The command a page is named for: `submit`, `sandbox serve` or `sandbox-serve`.
fn find(root: &clap::Command, name: &str) -> Option<clap::Command> {
    let wanted = format!(
        "moadian-{}",
        name.split_whitespace().collect::<Vec<_>>().join("-")
    );
    let mut pages = Vec::new();
    every_page(root, &mut pages);
    pages
        .into_iter()
        .skip(1)
        .find(|c| c.get_display_name() == Some(wanted.as_str()))
}

/// One page: clap's sections, then EXIT STATUS.
fn render(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone())
        .source(concat!("moadian ", env!("CARGO_PKG_VERSION")))
        .render(w)?;
    w.write_all(EXIT_STATUS.as_bytes())
}

/// `cmd` and, after it, every command under it that is not hidden, at any depth.
fn every_page(cmd: &clap::Command, pages: &mut Vec<clap::Command>) {
    pages.push(cmd.clone());
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        every_page(sub, pages);
    }
}

/// Every page into `dir`, each written whole under a temporary name and then renamed.
fn write_all(root: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    let mut pages = Vec::new();
    every_page(root, &mut pages);
    for cmd in pages {
        let name = format!(
            "{}.1",
            cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
        );
        let mut text = Vec::new();
        render(&cmd, &mut text)?;
        let part = dir.join(format!(".{name}.part"));
        std::fs::write(&part, &text)
            .and_then(|()| std::fs::rename(&part, dir.join(&name)))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.join(&name).display()))?;
    }
    Ok(())
}
