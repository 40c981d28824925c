//! The `moadian` command. All work lives in the library; this only hands over to [`moadian::cli`].

fn main() -> std::process::ExitCode {
    moadian::cli::main()
}
