fn main() -> std::process::ExitCode {
    skyhelm::app::main_with(std::env::args_os())
}
