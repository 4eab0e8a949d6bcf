//! The manifest stream in and out (I/O, like `app`): stdin read into one buffer, stdout written
//! as the output's slices.
//!
//! Issue 23: a growing buffer faulted in page by page cost more than the rest of a run on a
//! large stream, and writing the output from a second full-size buffer doubled the memory.

use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::ops::Deref;

/// Past this size a buffer is asked to be backed by huge pages (`MADV_HUGEPAGE`): 2 MB pages
/// are cleared and faulted in 512 times less often than 4 kB ones.
const HUGE: usize = 2 << 20;

/// The first capacity when stdin is not a regular file (a pipe): large steps, so that a large
/// stream is read in few calls and its buffer grows a few times (by doubling), never page by page.
const PIPE_FIRST: usize = 1 << 20;

/// The bytes of the input stream, read once and never copied.
///
/// A large regular file is read into a buffer whose bytes start on a 2 MB boundary, so that every
/// page of it can be a huge page: the allocator's large blocks start just past a page boundary,
/// which left up to 2 MB at each end in 4 kB pages, each faulted in alone (issue 23: reading the
/// 27 MB stream took 7.6 ms of CPU that way, 5.2 ms aligned; `cat` takes 3.8).
#[derive(Default)]
pub struct Input {
    /// The memory. Either its bytes are the input (`start` 0 and `len` its length), or its
    /// length is 0 and the `len` bytes from `start` in its capacity were written by `read`.
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl From<Vec<u8>> for Input {
    fn from(buf: Vec<u8>) -> Self {
        let len = buf.len();
        Input { buf, start: 0, len }
    }
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `start..start + len` lies inside the buffer's capacity and every byte of it
        // is initialized: either it is the Vec's own contents, or `read_aligned` had the
        // kernel write it (`read` returned its count) and nothing writes to it afterwards.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().add(self.start), self.len) }
    }
}

/// Reads all of stdin. A regular file is read into one buffer of its size (from `fstat`); a pipe
/// into a buffer that doubles from 1 MB. Either is asked for huge pages when large.
pub fn read_stdin() -> io::Result<Input> {
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
            return read_aligned(&mut file, size);
        }
        grow_from_pipe(&mut file).map(Input::from)
    }
    #[cfg(not(unix))]
    {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        Ok(Input::from(buf))
    }
}

/// Reads `file`, `size` bytes long by `fstat`, to its end: when it is large, into a buffer
/// whose first byte is on a 2 MB boundary (see [`Input`]). A file that turns out longer than
/// `size` (it grew while read) is read on into a growing buffer.
#[cfg(unix)]
fn read_aligned(file: &mut std::fs::File, size: usize) -> io::Result<Input> {
    // One more byte: the read that finds the end of the file needs room to return 0.
    let room = size.saturating_add(1);
    if room < 2 * HUGE {
        let mut buf = buffer(room);
        file.read_to_end(&mut buf)?;
        return Ok(Input::from(buf));
    }
    // A size no allocation can take (a sparse file) is an error, not an abort.
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(room.saturating_add(HUGE)).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let start = buf.as_ptr().align_offset(HUGE).min(HUGE);
    let spare = &mut buf.spare_capacity_mut()[start..][..room];
    advise_huge_range(spare.as_ptr() as usize, room);
    let mut len = 0;
    while len < room {
        let n = read_uninit(file, &mut spare[len..])?;
        if n == 0 {
            return Ok(Input { buf, start, len });
        }
        len += n;
    }
    // Past `size`: the bytes read so far, then the rest.
    // SAFETY: the first `len` bytes of `spare` were written by `read` (see `read_uninit`).
    let read = unsafe { std::slice::from_raw_parts(spare.as_ptr().cast::<u8>(), len) };
    let mut grown = read.to_vec();
    file.read_to_end(&mut grown)?;
    Ok(Input::from(grown))
}

/// One `read(2)` from `file` into `into`, retried when interrupted: how many bytes it wrote
/// (those first bytes of `into` are then initialized).
#[cfg(unix)]
fn read_uninit(file: &std::fs::File, into: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // At most this much a call, as std's own reads (Linux returns at most 0x7ffff000 anyway).
    let ask = into.len().min(isize::MAX as usize).min(0x7fff_f000);
    loop {
        // SAFETY: `into` is writable memory of at least `ask` bytes that this function borrows
        // mutably; `read` writes at most `ask` bytes into it and returns how many (or -1).
        let n = unsafe { libc::read(file.as_raw_fd(), into.as_mut_ptr().cast::<libc::c_void>(), ask) };
        match usize::try_from(n) {
            Ok(n) => return Ok(n),
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
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
fn advise_huge(buf: &Vec<u8>) {
    if buf.capacity() >= 2 * HUGE {
        advise_huge_range(buf.as_ptr() as usize, buf.capacity());
    }
}

/// The allocator: the system's, with every allocation of [`HUGE_FROM`] bytes or more asked for
/// huge pages ([`advise_huge_range`]). A huge document's buffers (its tree, its new text) are
/// faulted in 2 MB at a time, not 4 kB: a fifth of a 16 MB config.yaml's time was page faults.
pub struct Allocator;

/// From this size on, an allocation is advised huge pages.
const HUGE_FROM: usize = 4 * HUGE;

// SAFETY: every call is the system allocator's own, with the same arguments; the advice only
// changes how the kernel backs the pages it returned.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        advised(unsafe { std::alloc::System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        advised(unsafe { std::alloc::System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as `alloc`.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        advised(unsafe { std::alloc::System.realloc(ptr, layout, new_size) }, new_size)
    }
}

/// `p`, the `size` bytes just allocated, advised huge pages when `size` is [`HUGE_FROM`] or more.
fn advised(p: *mut u8, size: usize) -> *mut u8 {
    if size >= HUGE_FROM && !p.is_null() {
        advise_huge_range(p as usize, size);
    }
    p
}

/// [`advise_huge`] for the `len` bytes at address `at`, rounded out to whole pages.
#[cfg(target_os = "linux")]
fn advise_huge_range(at: usize, len: usize) {
    const PAGE: usize = 4096;
    let start = at / PAGE * PAGE;
    let end = at.saturating_add(len).next_multiple_of(PAGE);
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
fn advise_huge_range(_: usize, _: usize) {}

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

/// Allocations of 1 MiB and more get their own mappings, returned to the system when freed.
/// glibc raises that threshold after each such block is freed (up to 32 MiB), after which
/// a huge document's freed buffers (a parse's reserved text, a tree's grown arena) stay in the
/// heap and count in the peak: a 16 MB config.yaml peaked at 112 MiB with, 100 MiB without.
pub fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
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

    /// A large file is read whole into bytes that start on a 2 MB boundary; one longer than its
    /// `fstat` size said (it grew) is read whole all the same; a small one as it is.
    #[test]
    fn a_file_is_read_whole_on_a_huge_page_boundary() {
        let data: Vec<u8> = (0..(2 * HUGE + 12345)).map(|i| (i % 253) as u8).collect();
        let path = std::env::temp_dir().join(format!("skyhelm-read-aligned-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let read = |size: usize| read_aligned(&mut std::fs::File::open(&path).unwrap(), size).unwrap();
        let input = read(data.len());
        assert_eq!(&*input, &data[..]);
        assert_eq!(input.as_ptr() as usize % HUGE, 0);
        for size in [data.len() - 1, 2 * HUGE, 0, 100] {
            assert_eq!(&*read(size), &data[..], "{size}");
        }
        std::fs::write(&path, b"a: 1\n").unwrap();
        assert_eq!(&*read(5), b"a: 1\n");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(&*read(0), b"");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&*Input::default(), b"");
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
