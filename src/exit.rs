//! Every exit code skyhelm uses, in one place.

use std::process::ExitCode;

/// 0 ok, 1 error, 2 `diff` found changes or a usage error (clap uses 2 for those too), 70 an
/// internal error (a bug: a caught panic; EX_SOFTWARE in sysexits.h).
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
            Exit::Error => 1,
            Exit::Changes | Exit::Usage => 2,
            Exit::Internal => 70,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}
