//! The only module that makes system calls.
//!
//! Everything goes through `rustix`'s raw Linux backend, except the calls
//! rustix keeps private (`rt_sigaction`, `sigaltstack`, `exit_group`), which
//! use the raw `goro_syscall5` from `arch/` (see [`signal`]).
//!
//! # Safety
//!
//! This module may use `unsafe`: mapping memory and changing its protection
//! hand out raw addresses, and signal handlers run with the preconditions the
//! kernel gives them. Each function documents what its callers must uphold.
#![allow(unsafe_code)]

pub(crate) mod epoll;
pub(crate) mod futex;
pub(crate) mod net;
#[cfg(feature = "freestanding")]
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod thread;

pub(crate) use thread::cpu_count;

pub(crate) use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
pub(crate) use rustix::fs::OFlags;
pub(crate) use rustix::io::Errno;

/// System calls by kind, for `goro::stats()`.
#[derive(Clone, Copy)]
pub(crate) enum Sys {
    Read,
    Write,
    Accept,
    Connect,
    EpollWait,
    EpollCtl,
    Futex,
    Other,
}

/// Counters indexed by `Sys`.
pub(crate) static SYSCALLS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

#[inline]
pub(crate) fn count(k: Sys) {
    SYSCALLS[k as usize].fetch_add(1, Ordering::Relaxed);
}

use crate::Error;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::Os(e.raw_os_error())
    }
}

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The kernel's page size: the value the freestanding entry found in the
/// auxiliary vector (`AT_PAGESZ`), else read once by rustix (which needs
/// `PR_GET_AUXV` or `/proc/self/auxv`: neither exists for a freestanding
/// `/init` on Linux 6.1, hence the setter).
pub(crate) fn page_size() -> usize {
    let p = PAGE_SIZE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    let p = rustix::param::page_size();
    PAGE_SIZE.store(p, Ordering::Relaxed);
    p
}

/// Records the page size the freestanding entry read from `AT_PAGESZ`.
#[cfg(feature = "freestanding")]
pub(crate) fn set_page_size(p: usize) {
    debug_assert!(p.is_power_of_two(), "goro: sys: AT_PAGESZ is not a power of two");
    PAGE_SIZE.store(p, Ordering::Relaxed);
}

/// The `envp` array the freestanding entry found on the initial stack (0:
/// none recorded; [`env_u64`] then reads `/proc/self/environ`).
static ENVP: AtomicUsize = AtomicUsize::new(0);

/// Records the process's `envp` for [`env_u64`].
///
/// # Safety
///
/// `envp` must point to a NULL-terminated array of pointers to
/// NUL-terminated strings that stay valid and unchanged for the rest of the
/// process (the kernel-built initial stack, which `_start` never returns
/// from).
#[cfg(feature = "freestanding")]
pub(crate) unsafe fn set_envp(envp: *const *const u8) {
    ENVP.store(envp as usize, Ordering::Release);
}

/// Reserves `len` bytes of address space, inaccessible (`PROT_NONE`) and not
/// charged against memory (`MAP_NORESERVE`). Returns its base address.
#[doc(alias = "mmap")]
pub(crate) fn reserve(len: usize) -> Result<usize, Error> {
    map_noreserve(len, rustix::mm::ProtFlags::empty())
}

/// Maps `len` bytes readable and writable, not charged against memory
/// (`MAP_NORESERVE`: pages cost memory only once touched). Returns its base.
#[doc(alias = "mmap")]
pub(crate) fn reserve_rw(len: usize) -> Result<usize, Error> {
    use rustix::mm::ProtFlags;
    map_noreserve(len, ProtFlags::READ | ProtFlags::WRITE)
}

fn map_noreserve(len: usize, prot: rustix::mm::ProtFlags) -> Result<usize, Error> {
    use rustix::mm::MapFlags;
    // SAFETY: a fresh anonymous mapping with a null hint cannot overlap
    // memory that Rust code owns; nothing is dereferenced here.
    let p = unsafe {
        rustix::mm::mmap_anonymous(core::ptr::null_mut(), len, prot, MapFlags::PRIVATE | MapFlags::NORESERVE)
    }?;
    Ok(p as usize)
}

/// Turns `[addr, addr + len)` into a guard region (`MADV_GUARD_INSTALL`,
/// Linux 6.13): every access to it faults with SIGSEGV, and, unlike an
/// `mprotect`, the mapping is not split, so it costs no extra kernel memory
/// mapping (`vm.max_map_count`). Older kernels fail with `EINVAL`.
///
/// # Safety
///
/// The page-aligned range lies inside a mapping from [`reserve_rw`] that
/// nothing uses (its contents are discarded).
#[doc(alias = "madvise")]
pub(crate) unsafe fn install_guard(addr: usize, len: usize) -> Result<(), Error> {
    use linux_raw_sys::general as k;
    // SAFETY: forwarded to the caller; madvise reads and writes no user memory.
    let r = unsafe {
        crate::arch::goro_syscall5(k::__NR_madvise as usize, addr, len, k::MADV_GUARD_INSTALL as usize, 0, 0)
    };
    check(r).map(|_| ())
}

/// The result of a raw system call (`goro_syscall5`): a negative errno is
/// an `Error::Os`, anything else the call's value.
pub(crate) fn check(r: isize) -> Result<usize, Error> {
    if (-4095..0).contains(&r) {
        Err(Error::Os(-r as i32))
    } else {
        Ok(r as usize)
    }
}

/// Whether guard regions ([`install_guard`]) work here: installs one on a
/// probe page and checks that the kernel then refuses to read that page
/// (a `write` from it to an eventfd fails with `EFAULT`). An emulator that
/// accepts the `madvise` without acting on it (qemu-user treats advice as
/// a hint) fails the check. Probed once per process.
pub(crate) fn guard_regions_work() -> bool {
    static PROBED: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);
    match PROBED.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let ok = probe_guard_region();
    PROBED.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
    ok
}

fn probe_guard_region() -> bool {
    use linux_raw_sys::general as k;
    let page = page_size();
    let Ok(p) = reserve_rw(page) else { return false };
    // SAFETY: `p` is the page just mapped, used by nothing else.
    let installed = unsafe { install_guard(p, page) }.is_ok();
    let refused = installed
        && match rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC) {
            Ok(efd) => {
                use rustix::fd::AsRawFd;
                // A raw write: no Rust reference to the guarded page is ever made. The kernel reads 8 bytes from it.
                let (nr, fd) = (k::__NR_write as usize, efd.as_raw_fd() as usize);
                // SAFETY: the fd is ours and open; the kernel validates the buffer address itself.
                let r = unsafe { crate::arch::goro_syscall5(nr, fd, p, 8, 0, 0) };
                check(r) == Err(Error::Os(linux_raw_sys::errno::EFAULT as i32))
            }
            Err(_) => false,
        };
    // SAFETY: the probe page is ours and nothing refers to it.
    unsafe { unmap(p, page) };
    refused
}

/// Makes `[addr, addr + len)` readable and writable.
///
/// # Safety
///
/// The range must lie inside a mapping from [`reserve`] that no Rust
/// reference points into with other expectations (goro's own stack region).
#[doc(alias = "mprotect")]
pub(crate) unsafe fn make_rw(addr: usize, len: usize) -> Result<(), Error> {
    use rustix::mm::MprotectFlags;
    // SAFETY: forwarded to the caller: the range is goro-owned reserved memory.
    unsafe { rustix::mm::mprotect(addr as *mut _, len, MprotectFlags::READ | MprotectFlags::WRITE) }?;
    Ok(())
}

/// Unmaps `[addr, addr + len)`.
///
/// # Safety
///
/// Nothing may use the range afterwards; it must come from [`reserve`].
#[doc(alias = "munmap")]
pub(crate) unsafe fn unmap(addr: usize, len: usize) {
    // SAFETY: forwarded to the caller. A failure leaves the mapping in place,
    // which leaks address space but breaks nothing.
    let _ = unsafe { rustix::mm::munmap(addr as *mut _, len) };
}

/// Writes all of `bytes` to standard error, ignoring errors (used for fatal
/// messages, also from signal handlers: it makes only `write` calls).
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    // SAFETY: fd 2 is only borrowed for the duration of the writes; if it is
    // closed the writes fail with EBADF, which is ignored.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(2) };
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

/// Monotonic clock in nanoseconds (vDSO where available).
#[inline]
pub(crate) fn now_ns() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Blocks the calling thread for `ns` nanoseconds (for host threads; a
/// goroutine sleeps through the timer heap instead).
#[doc(alias = "clock_nanosleep")]
pub(crate) fn thread_sleep(ns: i64) {
    let mut left = rustix::time::Timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 };
    while let rustix::thread::NanosleepRelativeResult::Interrupted(rem) =
        rustix::thread::clock_nanosleep_relative(rustix::time::ClockId::Monotonic, &left)
    {
        left = rem;
    }
}

/// Gives up ownership of an fd (goro's poll layer closes it itself).
pub(crate) fn into_raw(fd: OwnedFd) -> i32 {
    use rustix::fd::IntoRawFd;
    fd.into_raw_fd()
}

/// The number of an fd that stays owned.
pub(crate) fn raw_of(fd: &OwnedFd) -> i32 {
    use rustix::fd::AsRawFd;
    fd.as_raw_fd()
}

/// Closes a raw fd that goro owns.
pub(crate) fn close_raw(fd: i32) {
    use rustix::fd::FromRawFd;
    count(Sys::Other);
    // SAFETY: the poll layer calls this exactly once per fd it owns, after
    // the last reference left; dropping the OwnedFd closes it.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}

/// Borrowing an owned fd, for the few wrappers that take one.
pub(crate) trait AsFdBorrowed {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}

impl AsFdBorrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

/// The value of environment variable `name` parsed as a decimal number,
/// from the `envp` the freestanding entry recorded, else read from
/// `/proc/self/environ` (no libc: there is no `environ` here).
/// `None` if unset, unparsable, or `/proc` is not mounted.
pub(crate) fn env_u64(name: &[u8]) -> Option<u64> {
    use rustix::fs::{Mode, OFlags};
    let envp = ENVP.load(Ordering::Acquire) as *const *const u8;
    if !envp.is_null() {
        // SAFETY: `set_envp`'s caller guarantees a NULL-terminated array of
        // NUL-terminated strings that live and stay unchanged forever.
        return unsafe { env_from_envp(envp, name) };
    }
    let fd = rustix::fs::open("/proc/self/environ", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    // Scan entry by entry; entries longer than the buffer are skipped, up
    // to their terminating NUL (their tail is not an entry of its own).
    let mut buf = [0u8; 4096];
    let mut len = 0;
    let mut eof = false;
    let mut skipping = false;
    loop {
        if !eof && len < buf.len() {
            match rustix::io::read(&fd, &mut buf[len..]) {
                Ok(0) => eof = true,
                Ok(n) => len += n,
                Err(Errno::INTR) => continue,
                Err(_) => return None,
            }
            continue;
        }
        let nul = buf[..len].iter().position(|&b| b == 0);
        if skipping {
            match nul {
                Some(e) => {
                    buf.copy_within(e + 1..len, 0);
                    len -= e + 1;
                    skipping = false;
                }
                None if eof => return None,
                None => len = 0,
            }
            if eof && len == 0 {
                return None;
            }
            continue;
        }
        let end = match nul {
            Some(e) => e,
            None if eof => len,
            None => {
                // An entry longer than the buffer: drop it.
                len = 0;
                skipping = true;
                continue;
            }
        };
        let entry = &buf[..end];
        if let Some(v) = env_value(entry, name) {
            return parse_u64(v);
        }
        if end >= len {
            return None;
        }
        buf.copy_within(end + 1..len, 0);
        len -= end + 1;
        if eof && len == 0 {
            return None;
        }
    }
}

/// The value in `entry` (`NAME=value`) if its name is `name`.
fn env_value<'a>(entry: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    (entry.len() > name.len() && entry.starts_with(name) && entry[name.len()] == b'=').then(|| &entry[name.len() + 1..])
}

/// A non-empty decimal number that fits in a `u64`.
fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in v {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// [`env_u64`] over an `envp` array.
///
/// # Safety
///
/// `envp` must be a NULL-terminated array of pointers to NUL-terminated
/// strings, all valid for reads.
unsafe fn env_from_envp(mut envp: *const *const u8, name: &[u8]) -> Option<u64> {
    loop {
        // SAFETY: the array is NULL-terminated (caller), and we stop at NULL.
        let p = unsafe { *envp };
        if p.is_null() {
            return None;
        }
        // SAFETY: every non-NULL entry is a NUL-terminated string (caller).
        let entry = unsafe { core::ffi::CStr::from_ptr(p.cast()) }.to_bytes();
        if let Some(v) = env_value(entry, name) {
            return parse_u64(v);
        }
        // SAFETY: `p` was not the terminator, so the next element exists.
        envp = unsafe { envp.add(1) };
    }
}
