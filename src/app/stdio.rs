//! The manifest stream in and out (I/O, like `app`): stdin read into one buffer, stdout written
//! as the output's slices.
//!
//! Issue 23: a growing buffer faulted in page by page cost more than the rest of a run on a
//! large stream, and writing the output from a second full-size buffer doubled the memory.

use std::io::{self, IoSlice, Read, Write};

/// Past this size a buffer is asked to be backed by huge pages (`MADV_HUGEPAGE`): 2 MB pages
/// are cleared and faulted in 512 times less often than 4 kB ones.
const HUGE: usize = 2 << 20;

/// The first capacity when stdin is not a regular file (a pipe): large steps, so that a large
/// stream is read in few calls and its buffer grows a few times (by doubling), never page by page.
const PIPE_FIRST: usize = 1 << 20;

/// Reads all of stdin. A regular file is read into one buffer of its size (from `fstat`); a pipe
/// into a buffer that doubles from 1 MB. Either is asked for huge pages when large.
pub fn read_stdin() -> io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let stdin = io::stdin().lock();
        // A second descriptor of fd 0: `File` reads straight from it (no 8 kB `BufReader`), and
        // its metadata is fstat.
        let mut file = std::fs::File::from(stdin.as_fd().try_clone_to_owned()?);
        let meta = file.metadata()?;
        if meta.is_file() {
            let at = io::Seek::stream_position(&mut file).unwrap_or(0);
            let size = usize::try_from(meta.len().saturating_sub(at)).unwrap_or(usize::MAX);
            // One more byte: the read that finds the end of the file needs room to return 0.
            let mut buf = buffer(size.saturating_add(1));
            file.read_to_end(&mut buf)?;
            return Ok(buf);
        }
        grow_from_pipe(&mut file)
    }
    #[cfg(not(unix))]
    {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// Reads `from` to its end into a buffer that starts at [`PIPE_FIRST`] and doubles when full.
fn grow_from_pipe(from: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = buffer(PIPE_FIRST);
    loop {
        if buf.len() == buf.capacity() {
            // realloc: a large buffer is moved by remapping its pages, not by copying them.
            buf.reserve_exact(buf.capacity());
            advise_huge(&buf);
        }
        let room = buf.capacity() - buf.len();
        // `take` bounds the read to the room left, so `read_to_end` never grows the buffer
        // itself (its own growth starts small); it reads into the spare capacity without
        // zeroing it first.
        let n = from.by_ref().take(room as u64).read_to_end(&mut buf)?;
        if n == 0 || n < room {
            return Ok(buf);
        }
    }
}

/// An empty buffer of `capacity` bytes, asked for huge pages when it is large.
fn buffer(capacity: usize) -> Vec<u8> {
    let buf = Vec::with_capacity(capacity);
    advise_huge(&buf);
    buf
}

/// Asks the kernel to back the buffer with huge pages where it can (its 2 MB-aligned parts). A
/// hint: the buffer's contents are the same whether it is taken or not. The whole pages the
/// buffer touches are advised, so that a buffer that has its own mapping (as large
/// allocations do) stays one mapping, which `realloc` can then grow by remapping.
#[cfg(target_os = "linux")]
fn advise_huge(buf: &Vec<u8>) {
    const PAGE: usize = 4096;
    if buf.capacity() < 2 * HUGE {
        return;
    }
    let start = buf.as_ptr() as usize / PAGE * PAGE;
    let end = (buf.as_ptr() as usize).saturating_add(buf.capacity()).next_multiple_of(PAGE);
    if start < end {
        // SAFETY: MADV_HUGEPAGE changes how the kernel backs the pages of the range, never
        // their contents or access (the pages are the buffer's own, rounded out to whole
        // pages); its failure (an old kernel, THP off, a range with unmapped parts) is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_: &Vec<u8>) {}

/// Writes `slices` to stdout, in order and whole: with `writev` straight to fd 1 on unix (no
/// copy into stdout's buffer), many slices at a time.
pub fn write_stdout(slices: &[&[u8]]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.flush()?;
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let mut file = std::fs::File::from(out.as_fd().try_clone_to_owned()?);
        write_all_vectored(&mut file, slices)
    }
    #[cfg(not(unix))]
    {
        write_all_vectored(&mut out, slices)
    }
}

/// `write_all` for many slices: `write_vectored` until every byte is written.
pub fn write_all_vectored(w: &mut impl Write, slices: &[&[u8]]) -> io::Result<()> {
    // At most 1024 slices a call (IOV_MAX on Linux).
    for group in slices.chunks(1024) {
        let mut io: Vec<IoSlice<'_>> = group.iter().filter(|s| !s.is_empty()).map(|s| IoSlice::new(s)).collect();
        let mut rest = &mut io[..];
        while !rest.is_empty() {
            match w.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most 3 bytes of one slice per call, as a pipe may.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn vectored_writes_keep_every_byte_in_order() {
        let slices: Vec<Vec<u8>> = (0..3000).map(|i| format!("{i}:").into_bytes()).chain([Vec::new()]).collect();
        let refs: Vec<&[u8]> = slices.iter().map(Vec::as_slice).collect();
        let mut w = Trickle(Vec::new());
        write_all_vectored(&mut w, &refs).unwrap();
        assert_eq!(w.0, refs.concat());
    }

    #[test]
    fn a_pipe_is_read_whole_across_doublings() {
        let data: Vec<u8> = (0..(3 * PIPE_FIRST + 17)).map(|i| (i % 251) as u8).collect();
        let got = grow_from_pipe(&mut io::Cursor::new(&data)).unwrap();
        assert_eq!(got, data);
        assert_eq!(grow_from_pipe(&mut io::Cursor::new(Vec::new())).unwrap(), Vec::<u8>::new());
        let exact = vec![7u8; PIPE_FIRST];
        assert_eq!(grow_from_pipe(&mut io::Cursor::new(&exact)).unwrap(), exact);
    }
}
