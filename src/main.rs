//! The `skyhelm` binary: everything is in the library ([`skyhelm::app::main_with`]).

fn main() -> std::process::ExitCode {
    skyhelm::app::main_with(std::env::args_os())
}
