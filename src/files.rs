//! Files skyhelm writes beside a run (I/O, like `app`): regular files written atomically
//! through a uniquely named temporary file in the same folder, private when new, and this
//! process's streams, other descriptors, devices and pipes written as what they are
//! ([`write_atomic`]); the last-run reports, one per working folder; and files a kubeconfig
//! names, read only when regular and bounded.

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

/// Writes a file the user named (`--report-file`, `--diff-file`, `--contexts-file`, generated
/// charts) by what it is:
///
/// - this process's stdout or stderr by name (`/dev/stdout`, `/dev/stderr`, `/dev/fd/1`,
///   `/proc/self/fd/2`, …): through the process's own handle, so the bytes go where the stream
///   is at (after what was written before, `2>file` and `2>>file` alike), not to offset 0 of a
///   reopened file;
/// - another descriptor by name (`/dev/fd/N`, `/proc/self/fd/N`): appended when it is a regular
///   file (a redirect), plainly written when it is a pipe or a device;
/// - a character device, a FIFO or a socket (also through a symlink): plainly written;
/// - anything else: `/proc/self/…` forms in the folder resolved (the parent is canonicalized),
///   then replaced atomically, with `fsync` ([`replace_atomically`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    match classify(path) {
        Target::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        }
        Target::Stderr => std::io::stderr().lock().write_all(bytes),
        Target::Descriptor => {
            let regular = std::fs::metadata(path)?.is_file();
            if regular {
                std::fs::OpenOptions::new().append(true).open(path)?.write_all(bytes)
            } else {
                open_unlike_a_file(path)?.write_all(bytes)
            }
        }
        Target::Path => {
            if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
                return open_unlike_a_file(path)?.write_all(bytes);
            }
            replace_atomically(&resolve_parent(path)?, bytes, mode, true)
        }
    }
}

/// Opens a device, FIFO or socket for writing. A FIFO nobody reads is refused at once
/// instead of blocking the run for ever (`--report-file fifo` hung a Helm install): it is first
/// opened non-blocking, which fails with ENXIO when no reader is there, then opened as usual
/// (a reader is there, so that returns at once) so the write blocks as a pipe's should.
fn open_unlike_a_file(path: &Path) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    if std::fs::metadata(path).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())) {
        let mut probe = std::fs::OpenOptions::new();
        probe.write(true);
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut probe, libc::O_NONBLOCK | libc::O_NOCTTY);
        match probe.open(path) {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(std::io::Error::other("a FIFO that nothing reads (start its reader first)"));
            }
            Err(e) => return Err(e),
            Ok(_reader_is_there) => {}
        }
    }
    std::fs::OpenOptions::new().write(true).open(path)
}

/// What a path written to names, by its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Stdout,
    Stderr,
    /// Another open descriptor of this process (`/dev/fd/N`, `/proc/self/fd/N`).
    Descriptor,
    Path,
}

/// `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, and `/proc/{self,thread-self,<our pid>}/fd/N`.
fn classify(path: &Path) -> Target {
    use std::path::Component;
    let parts: Vec<String> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let fd = match parts.as_slice() {
        ["/", "dev", "stdout"] => "1",
        ["/", "dev", "stderr"] => "2",
        ["/", "dev", "fd", n] => n,
        ["/", "proc", who, "fd", n] if is_this_process(who) => n,
        _ => return Target::Path,
    };
    match fd.parse::<u32>() {
        Ok(1) => Target::Stdout,
        Ok(2) => Target::Stderr,
        Ok(_) => Target::Descriptor,
        Err(_) => Target::Path,
    }
}

fn is_this_process(who: &str) -> bool {
    who == "self" || who == "thread-self" || who.parse::<u32>().is_ok_and(|pid| pid == std::process::id())
}

/// `path` with its folder canonicalized (so `/proc/self/cwd/f` becomes the real folder's `f`,
/// and the temporary file and the rename happen there). A path without a folder is relative to
/// the working folder, left as it is.
fn resolve_parent(path: &Path) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(std::fs::canonicalize(p)?.join(name)),
        _ => Ok(path.to_path_buf()),
    }
}

/// Writes `path` through a temporary file created exclusively (`O_CREAT|O_EXCL`, so never
/// through a symlink someone placed there) with a unique name in the same folder, then renames
/// it into place: readers see the old or the new file, never half of one, and concurrent
/// writers each succeed (the last rename wins). A symlink at `path` itself is replaced, not
/// followed. With `sync` the data reaches the disk before the rename (a crash leaves the old or
/// the new file); without, a crash may lose the new file's content, never mix the two.
fn replace_atomically(path: &Path, bytes: &[u8], mode: Mode, sync: bool) -> std::io::Result<()> {
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
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `$XDG_STATE_HOME/skyhelm` (default `~/.local/state/skyhelm`), where the last-run reports
/// are kept; a relative XDG_STATE_HOME is ignored, as the XDG spec says.
pub fn state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()).or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute()).map(|h| h.join(".local/state"))
    })?;
    Some(base.join("skyhelm"))
}

/// The last-run report of runs started in `cwd`: `<state>/last-run-<first 16 hex of
/// sha256(cwd)>.txt`. Helm passes a post-renderer no release name (Helm 3 nothing, Helm 4 only
/// HELM_PLUGIN_NAME and HELM_PLUGIN_DIR), so releases rendered from different folders keep
/// separate reports.
pub fn last_run_path(state: &Path, cwd: &Path) -> PathBuf {
    let hash = crate::text::sha256_hex(cwd.as_os_str().as_encoded_bytes());
    state.join(format!("last-run-{}.txt", &hash[..16]))
}

/// The last-run reports in `state`, newest first (by modification time).
pub fn last_runs(state: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(state)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("last-run-") && name.ends_with(".txt")) {
            continue;
        }
        // Removed since it was listed (a concurrent run pruned it): not a report any more.
        let meta = match entry.metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        };
        if meta.is_file() {
            found.push((meta.modified()?, entry.path()));
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// How many last-run reports (working folders) are kept; older ones are removed, so runs from
/// ever new folders (CI's temporary checkouts) cannot fill the state folder.
pub const MAX_LAST_RUNS: usize = 64;

/// Removes the oldest last-run reports in `state` beyond [`MAX_LAST_RUNS`], never `keep`.
pub fn prune_last_runs(state: &Path, keep: &Path) -> std::io::Result<()> {
    for old in last_runs(state)?.iter().skip(MAX_LAST_RUNS).filter(|p| p.as_path() != keep) {
        match std::fs::remove_file(old) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Keeps `text` as a last-run report (folder 0700 when created, file 0600): atomically, without
/// `fsync` (a diagnostic copy on the hot path: a crash may lose it, never leave half of it).
pub fn save_last_run(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)?;
    }
    replace_atomically(path, text.as_bytes(), Mode::Private, false)
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
    fn names_of_this_process_streams() {
        let pid = std::process::id();
        for (p, want) in [
            ("/dev/stdout".to_string(), Target::Stdout),
            ("/dev/stderr".into(), Target::Stderr),
            ("/dev//./stderr".into(), Target::Stderr),
            ("/dev/fd/1".into(), Target::Stdout),
            ("/dev/fd/2".into(), Target::Stderr),
            ("/proc/self/fd/1".into(), Target::Stdout),
            ("/proc/thread-self/fd/2".into(), Target::Stderr),
            (format!("/proc/{pid}/fd/2"), Target::Stderr),
            ("/dev/fd/63".into(), Target::Descriptor),
            ("/proc/self/fd/7".into(), Target::Descriptor),
            ("/proc/1/fd/2".into(), Target::Path),
            ("/proc/self/cwd/f".into(), Target::Path),
            ("/dev/null".into(), Target::Path),
            ("dev/stderr".into(), Target::Path),
            ("/dev/fd/x".into(), Target::Path),
        ] {
            assert_eq!(classify(Path::new(&p)), want, "{p}");
        }
    }

    #[test]
    fn last_run_names_differ_by_folder() {
        let (a, b) = (last_run_path(Path::new("/s"), Path::new("/a")), last_run_path(Path::new("/s"), Path::new("/b")));
        assert_ne!(a, b);
        let name = a.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        assert!(name.starts_with("last-run-") && name.len() == "last-run-.txt".len() + 16, "{name}");
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_651_200), "2026-11-26T00:00:00Z");
    }
}
