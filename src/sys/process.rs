//! Process-level calls for freestanding programs (feature `freestanding`):
//! writing to standard streams, exit, power-off, and starting a child
//! program without libc (`clone` with fork semantics, then `execve`).
//!
//! `clone` and `execve` are not public in rustix, so they go through the
//! raw `goro_syscall5` from `arch/`, as `exit_group` does in [`super::signal`].
#![allow(unsafe_code)]

use crate::arch::goro_syscall5;
use crate::Error;
use core::ffi::CStr;
use linux_raw_sys::general as k;

/// Writes all of `bytes` to `fd`, retrying short writes and `EINTR`.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), Error> {
    // SAFETY: the fd is only borrowed for these writes; a closed or invalid
    // fd makes them fail with EBADF, which is returned.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(Error::Os(linux_raw_sys::errno::EIO as i32)),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The calling process's id.
pub(crate) fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// The calling thread's id.
pub(crate) fn gettid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// Ends every thread of the process with `code`.
pub(crate) fn exit_group(code: i32) -> ! {
    super::signal::exit_group(code)
}

/// Powers the machine off (`reboot(LINUX_REBOOT_CMD_POWER_OFF)`), after
/// `sync` (a no-op without writable file systems, but cheap). Needs
/// `CAP_SYS_BOOT`; if the kernel refuses, the process exits with `code`.
pub(crate) fn power_off(code: i32) -> ! {
    rustix::fs::sync();
    let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
    exit_group(code)
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit`/`exit_group` with this code.
    Exited(i32),
    /// A signal with this number ended it.
    Signaled(i32),
}

/// Most arguments [`spawn`] passes.
pub(crate) const MAX_ARGS: usize = 32;

/// Starts `path` as a child process with arguments `argv` (`argv[0]`
/// included), environment `envp` (a NULL-terminated array, or null for
/// none), and `fds`: (fd in this process, fd number in the child) pairs,
/// `dup3`'d in the child before `execve` (a pair with equal numbers is left
/// as it is). Returns the child's pid; the child exits with 127 if a `dup3`
/// or `execve` fails (it runs no Rust code after the fork, so it prints
/// nothing).
///
/// # Safety
///
/// `envp` must be null or a NULL-terminated array of pointers to
/// NUL-terminated strings valid for the duration of the call.
pub(crate) unsafe fn spawn(
    path: &CStr,
    argv: &[&CStr],
    envp: *const *const u8,
    fds: &[(i32, i32)],
) -> Result<i32, Error> {
    if argv.len() >= MAX_ARGS {
        return Err(Error::InvalidConfig("spawn: at most 31 arguments"));
    }
    // Built before the fork, so the child only has to make system calls.
    let mut args = [core::ptr::null::<u8>(); MAX_ARGS];
    for (slot, a) in args.iter_mut().zip(argv) {
        *slot = a.as_ptr().cast();
    }
    let empty = [core::ptr::null::<u8>()];
    let envp = if envp.is_null() { empty.as_ptr() } else { envp };
    // Neither process's memory is touched by the call itself.
    // SAFETY: clone with only SIGCHLD and a null stack is fork: the child continues on its own copy of this address
    // space (only the calling thread) and of this stack, sharing no pointer with the parent.
    let pid = unsafe { goro_syscall5(k::__NR_clone as usize, k::SIGCHLD as usize, 0, 0, 0, 0) };
    if pid == 0 {
        // The child: arrange its fds, then replace the program. Only raw
        // system calls from here on: no locks, no allocation, no Rust code
        // that might touch state a parent thread held at the fork.
        // The program gets SIGPIPE's default action back (the entry set it
        // to ignored for this process, and execve keeps ignored signals
        // ignored), as Rust's std does for its children.
        super::signal::reset_default(super::signal::SIGPIPE);
        for &(from, to) in fds {
            if from != to {
                // SAFETY: dup3 takes no pointers; flags 0 leaves the new fd
                // open across execve.
                let r = unsafe { goro_syscall5(k::__NR_dup3 as usize, from as usize, to as usize, 0, 0, 0) };
                if r < 0 {
                    exit_group(127);
                }
            }
        }
        // SAFETY: path is NUL-terminated, args is NULL-terminated (at most MAX_ARGS - 1 entries were filled), envp is
        // NULL-terminated (the caller, or `empty`); all are valid in the child's copy of memory.
        unsafe {
            goro_syscall5(k::__NR_execve as usize, path.as_ptr() as usize, args.as_ptr() as usize, envp as usize, 0, 0)
        };
        exit_group(127);
    }
    if pid < 0 {
        return Err(Error::Os(-pid as i32));
    }
    Ok(pid as i32)
}

/// Waits for child `pid` to end (blocking the calling thread) and reaps it.
pub(crate) fn wait(pid: i32) -> Result<ExitStatus, Error> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(Error::InvalidConfig("wait: pid must be positive"))?;
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(sig) = st.terminating_signal() {
                    return Ok(ExitStatus::Signaled(sig));
                }
                if let Some(code) = st.exit_status() {
                    return Ok(ExitStatus::Exited(code));
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
