//! The `rollcall` binary; everything lives in the library so tests can drive it too.

fn main() -> std::process::ExitCode {
    rollcall_io::cli::main()
}
