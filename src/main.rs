//! `zcell-scheduler`: a thin binary over the library; see `cli` for the command line.

fn main() -> std::process::ExitCode {
    zcell_scheduler::cli::main().into()
}
