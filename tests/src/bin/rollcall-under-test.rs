//! The `rollcall` binary, built where the end-to-end tests can find it.

fn main() -> std::process::ExitCode {
    rollcall_io::cli::main()
}
