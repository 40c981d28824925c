//! The command line. One file per command; each turns the library's data into text for a
//! person (or JSON with `--json`). Exit codes: 0 success, 1 the job found problems or failed,
//! 2 usage errors.

use crate::lang::Lang;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod cancel;
pub mod correct;
pub mod doctor;
pub mod enqueue;
pub mod explain;
pub mod inbox;
pub mod inquire;
pub mod pacing;
pub mod report;
pub mod resend;
pub mod return_;
pub mod run;
pub mod sandbox;
pub mod session;
pub mod sign;
pub mod signer_args;
pub mod status;
pub mod submit;
pub mod taxid;
pub mod template;
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
    /// Language of messages: fa (Persian) or en (English). Some commands show both when unset.
    #[arg(long, global = true, value_enum, env = "MOADIAN_LANG")]
    pub lang: Option<Lang>,
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
    /// What the queue holds and where each invoice stands.
    Status(status::Args),
    /// Ask the tax server about invoices by tax ID, uid or reference number.
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
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
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
        Command::Submit(a) => submit::run(a, &global).await,
        Command::Enqueue(a) => enqueue::run(a, &global).await,
        Command::Run(a) => run::run(a, &global).await,
        Command::Status(a) => status::run(a, &global).await,
        Command::Inquire(a) => inquire::run(a, &global).await,
        Command::Template(a) => template::run(a, &global).await,
        Command::Correct(a) => correct::run(a, &global).await,
        Command::Resend(a) => resend::run(a, &global).await,
        Command::Cancel(a) => cancel::run(a, &global).await,
        Command::Return(a) => return_::run(a, &global).await,
        Command::Report(a) => report::run(a, &global).await,
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOADIAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,cryptoki=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
