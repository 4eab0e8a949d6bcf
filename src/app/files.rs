//! Files skyhelm writes beside a run (I/O, like `app`): written atomically through a uniquely
//! named temporary file in the same folder, private when new; and files a kubeconfig names,
//! read only when regular and bounded.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Mode of a file that did not exist before (`--report-file`, `--diff-file` may hold config
/// content; the last-run report always).
const NEW_FILE_MODE: u32 = 0o600;

/// What to do with the mode of a file that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An existing regular file keeps its mode; a new one gets 0600.
    KeepExisting,
    /// Always 0600.
    Private,
    /// An existing regular file keeps its mode; a new one gets 0644 (man pages, which every
    /// user of the machine reads).
    Public,
}

/// Writes `path` through a temporary file created exclusively (`O_CREAT|O_EXCL`, so never
/// through a symlink someone placed there) with a unique name in the same folder, then renames
/// it into place: readers see the old or the new file, never half of one, and concurrent
/// writers each succeed (the last rename wins). A symlink at `path` itself is replaced, not
/// followed, unless it leads to a device or a pipe.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    // A terminal, a pipe, anything under /dev or /proc (/dev/stderr may lead to a regular file):
    // written to as it is (renaming over it would replace the device or the link to it).
    let device = path.starts_with("/dev") || path.starts_with("/proc");
    if device || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new().write(true).open(path)?.write_all(bytes);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".skyhelm-tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(NEW_FILE_MODE));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    let existing = std::fs::symlink_metadata(path).ok().filter(std::fs::Metadata::is_file);
    match (mode, existing) {
        (Mode::KeepExisting | Mode::Public, Some(meta)) => tmp.as_file().set_permissions(meta.permissions())?,
        #[cfg(unix)]
        (Mode::Public, None) => {
            tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        }
        _ => {}
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `$XDG_STATE_HOME/skyhelm/last-run.txt` (default `~/.local/state/skyhelm/last-run.txt`);
/// a relative XDG_STATE_HOME is ignored, as the XDG spec says.
pub fn last_run_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()).or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute()).map(|h| h.join(".local/state"))
    })?;
    Some(base.join("skyhelm").join("last-run.txt"))
}

/// Keeps `text` as the last run's report (folder 0700 when created, file 0600).
pub fn save_last_run(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    write_atomic(path, text.as_bytes(), Mode::Private)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
pub fn utc_timestamp(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", crate::kubeconfig::cert::format_date(secs), rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Reads a file a kubeconfig names (`kubeconfig pack`, token files for `doctor --live`): a regular file only, never a FIFO
/// or a device, which could block or never end. The type is checked before opening and again
/// on the opened file (it is opened non-blocking, so a FIFO swapped in between cannot hang
/// the open); at most `limit` + 1 bytes are read, so the caller can refuse a larger file.
pub fn read_regular_file(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    fn regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
        let t = meta.file_type();
        if t.is_file() {
            return Ok(());
        }
        #[cfg(unix)]
        let what = {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                "a FIFO (named pipe)"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else if t.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            }
        };
        #[cfg(not(unix))]
        let what = if t.is_dir() { "a directory" } else { "not a regular file" };
        Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}; only regular files are inlined")))
    }
    regular(&std::fs::metadata(path)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = options.open(path)?;
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_651_200), "2026-11-26T00:00:00Z");
    }
}
