//! The `skyhelm` binary: everything is in the library ([`skyhelm::app::main_with`]).

/// The system allocator, advising huge pages for large buffers ([`skyhelm::app::Allocator`]).
#[global_allocator]
static ALLOCATOR: skyhelm::app::Allocator = skyhelm::app::Allocator;

fn main() -> std::process::ExitCode {
    skyhelm::app::main_with(std::env::args_os())
}
