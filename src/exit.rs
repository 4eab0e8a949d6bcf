//! Every exit code skyhelm uses, in one place.

use std::process::ExitCode;

/// 0 ok, 1 error (a usage error included, on every subcommand, as helm-diff: a CI step that
/// reads 2 as drift never takes a typo for drift), 2 `diff` found changes, 70 an internal error
/// (a bug: a caught panic; EX_SOFTWARE in sysexits.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Error,
    Changes,
    Usage,
    Internal,
}

impl Exit {
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error | Exit::Usage => 1,
            Exit::Changes => 2,
            Exit::Internal => 70,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The exit codes as `--help` and the man pages list them.
pub const EXIT_STATUS: &str = "Exit status: 0 success; 1 error, usage errors included (bad option or value); 2 `diff` \
found changes; 70 internal error (a bug; nothing was written to stdout).";
