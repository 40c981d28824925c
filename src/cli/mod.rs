//! The command line. One file per command; each turns the library's data into text for a
//! person (or JSON with `--json`). Exit codes: 0 success, 1 the job found problems or failed,
//! 2 usage errors.

use crate::lang::Langs;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod cancel;
pub mod correct;
pub use crate::dates;
pub mod doctor;
pub mod enqueue;
pub mod explain;
pub mod inbox;
pub mod init;
pub mod inquire;
pub mod man;
pub mod pacing;
pub mod progress;
pub mod queue;
pub mod report;
pub mod resend;
pub mod return_;
pub mod run;
pub mod sandbox;
pub mod serve;
pub mod session;
pub mod sign;
pub mod signer_args;
pub mod status;
pub mod stderr;
pub mod submit;
pub mod table;
pub mod taxid;
pub mod template;
pub mod terminate;
pub mod token;
pub mod validate;

/// moadian — get electronic invoices into the Iranian tax system (سامانه مودیان), safely.
#[derive(Debug, Parser)]
#[command(name = "moadian", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Language of what is shown, for every command: fa (Persian, the default), en (English)
    /// or both. JSON output always carries both: every message is {"fa": …, "en": …}.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "MOADIAN_LANG",
        default_value = "fa"
    )]
    pub lang: Langs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check invoices against the official tax rules before anything is sent.
    Validate(validate::Args),
    /// Make a tax ID (شماره منحصر به فرد مالیاتی) from memory ID, date and serial, or check one.
    Taxid(taxid::Args),
    /// Explain a server or tool code: meaning, causes and fix, in Persian and English.
    Explain(explain::Args),
    /// Sign one invoice and print its compact JWS (what would be sent, before encryption).
    Sign(sign::Args),
    /// Preflight checklist: token, PIN, certificate, national ID, clock, server.
    Doctor(doctor::Args),
    /// Look at the tokens: slots, PIN state, certificates.
    Token(token::Args),
    /// Run the local sandbox of the tax API.
    Sandbox(sandbox::Args),
    /// Validate, queue, sign, send and follow invoices to a final status.
    Submit(submit::Args),
    /// Validate invoices and put them in the queue without sending.
    Enqueue(enqueue::Args),
    /// One scheduled pass: pick up the inbox, send what is queued, poll what is pending.
    Run(run::Args),
    /// A local HTTP API over the same queue (127.0.0.1:8700), with the runner inside.
    Serve(serve::Args),
    /// What the queue holds and where each invoice stands.
    Status(status::Args),
    /// The queue file itself: `backup FILE` (a consistent copy), `check` (integrity, counts).
    Queue(queue::Args),
    /// Ask the tax server about invoices by tax ID, uid or reference number.
    ///
    /// Exits 0 only when every invoice asked about was found: by tax ID, answered with its
    /// status and no error (not NOT_FOUND or ACCESS_DENIED); by uid or reference number,
    /// SUCCESS. Otherwise 1.
    Inquire(inquire::Args),
    /// Write a spreadsheet template to fill invoices in.
    Template(template::Args),
    /// Make the corrective invoice (ins 2) of an accepted invoice.
    Correct(correct::Args),
    /// Send again, with the same tax ID, invoices that NEED ATTENTION (acknowledged, then
    /// NOT_FOUND): asks first, refuses when an inquiry shows the server has them.
    Resend(resend::Args),
    /// Make the cancellation (ins 3) of an accepted invoice.
    Cancel(cancel::Args),
    /// Make the sales return (ins 4) of an accepted invoice.
    #[command(name = "return")]
    Return(return_::Args),
    /// Report invoices, amounts and VAT per period; failures explained.
    Report(report::Args),
    /// Write a commented moadian.toml for a taxpayer (flags or questions), then run doctor.
    Init(init::Args),
    /// Print the shell completion script: bash, zsh, fish, powershell or elvish.
    Completions(CompletionsArgs),
    /// Print a manual page (roff): `moadian man > moadian.1`, `moadian man submit`, or every
    /// page with `moadian man --dir DIR`.
    Man(man::Args),
}

/// `moadian completions SHELL`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let lang = cli.global.lang;
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::say_err!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(dispatch(cli));
    // Every task and blocking job ends with the runtime (a queue write in progress is given
    // time to finish): runners are released before a SIGTERM that stopped the command ends
    // the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    terminate::end_if_terminated();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match queue_file_error(&e) {
                Some(q) => match lang {
                    Langs::En => crate::say_err!("error: {q}"),
                    Langs::Fa => crate::say_err!("خطا: {}", q.persian()),
                    Langs::Both => crate::say_err!("خطا: {}\nerror: {q}", q.persian()),
                },
                None => match queue_errors(&e).next() {
                    // A queue's refusal (busy, conflict…) has its Persian text: both languages,
                    // the chosen one first.
                    Some(q) => match lang {
                        Langs::En => crate::say_err!("error: {e:#}\nخطا: {}", q.persian()),
                        Langs::Fa | Langs::Both => {
                            crate::say_err!("خطا: {}\nerror: {e:#}", q.persian())
                        }
                    },
                    None => crate::say_err!("error: {e:#}"),
                },
            }
            // The queue's database out of reach is an outage, like the tax server's.
            let down =
                queue_errors(&e).any(|q| matches!(q, moadian_queue::QueueError::PostgresDown(_)));
            ExitCode::from(if down { submit::EXIT_UNREACHABLE } else { 1 })
        }
    }
}

/// A queue-file problem (damaged, not a queue, read-only, disk full, newer schema) anywhere in
/// the error's chain: its message names the file and what to do, so it is shown alone, once,
/// in the chosen language (both when unset).
fn queue_file_error(e: &anyhow::Error) -> Option<&moadian_queue::QueueError> {
    use moadian_queue::QueueError;
    queue_errors(e).find(|q| matches!(q, QueueError::File { .. } | QueueError::TooNew { .. }))
}

/// The queue's errors in `e`'s chain, also where the pipeline carries one (it is transparent:
/// the chain shows what it wraps, not the queue's error itself).
pub(crate) fn queue_errors(e: &anyhow::Error) -> impl Iterator<Item = &moadian_queue::QueueError> {
    e.chain().filter_map(|c| {
        c.downcast_ref::<moadian_queue::QueueError>().or_else(|| {
            match c.downcast_ref::<crate::pipeline::PipelineError>() {
                Some(crate::pipeline::PipelineError::Queue(q)) => Some(q),
                _ => None,
            }
        })
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let global = cli.global;
    match cli.command {
        Command::Validate(a) => validate::run(a, &global).await,
        Command::Taxid(a) => taxid::run(a, &global).await,
        Command::Explain(a) => explain::run(a, &global).await,
        Command::Sign(a) => sign::run(a, &global).await,
        Command::Doctor(a) => doctor::run(a, &global).await,
        Command::Token(a) => token::run(a, &global).await,
        Command::Sandbox(a) => sandbox::run(a, &global).await,
        Command::Submit(a) => terminate::stoppable(submit::run(a, &global)).await,
        Command::Enqueue(a) => enqueue::run(a, &global).await,
        Command::Run(a) => terminate::stoppable(run::run(a, &global)).await,
        Command::Serve(a) => serve::run(a, &global).await,
        Command::Status(a) => status::run(a, &global).await,
        Command::Queue(a) => queue::run(a, &global).await,
        Command::Inquire(a) => inquire::run(a, &global).await,
        Command::Template(a) => template::run(a, &global).await,
        Command::Correct(a) => correct::run(a, &global).await,
        Command::Resend(a) => terminate::stoppable(resend::run(a, &global)).await,
        Command::Cancel(a) => cancel::run(a, &global).await,
        Command::Return(a) => return_::run(a, &global).await,
        Command::Report(a) => report::run(a, &global).await,
        Command::Init(a) => init::run(a, &global).await,
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut cmd, "moadian", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man(a) => man::run(a),
    }
}

/// The English plural ending for a count, for summary lines.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A closed standard output (`moadian status | head -1`) ends the program quietly, with the
/// conventional status 141 (killed by SIGPIPE), like every other command-line tool — instead
/// of Rust's default (the signal ignored, then a panic at the next `println!`). Sockets are not
/// affected: the standard library sends on them with `MSG_NOSIGNAL`; neither is standard error,
/// which is written through [`stderr::write`]. Work already committed to the queue stays
/// committed; an interrupted pass resumes like after any crash.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread starts; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Colour and other ANSI escapes only on a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>): log files, cron mail and journald get plain text.
pub(crate) fn colour(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOADIAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,cryptoki=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(std::io::stderr().is_terminal()))
        .with_writer(|| stderr::Stderr)
        .try_init();
}
