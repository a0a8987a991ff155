//! Child processes without libc: start a program, wait for it.
//!
//! An `init` cannot simply fork with a C library it does not have; these two
//! calls are enough to run a program (or this one again, with other
//! arguments) in a child process and learn how it ended.

use super::ExitStatus;
use crate::{sys, Error};
use core::ffi::CStr;

/// Starts the program at `path` as a child process, with arguments `argv`
/// (`argv[0]` included, at most 31) and this process's environment.
/// `fds` lists (fd here, fd number in the child) pairs to set up in the
/// child, e.g. `&[(pipe_write_end, 2)]` to capture its standard error;
/// every other fd is inherited as usual (those opened close-on-exec, as all
/// of goro's are, are not). Returns the child's pid. The child is a fork of
/// the calling thread that at once replaces itself with `execve`; if that
/// (or setting up `fds`) fails it exits with 127.
///
/// Safe to call from a goroutine while other runtime threads run: the child
/// copies only the calling thread and makes only system calls before
/// `execve`.
pub fn spawn(path: &CStr, argv: &[&CStr], fds: &[(i32, i32)]) -> Result<i32, Error> {
    // SAFETY: `envp()` is null or the NULL-terminated environment array on
    // the initial stack, which lives as long as the process.
    unsafe { sys::process::spawn(path, argv, super::envp(), fds) }
}

/// Waits for child `pid` to end and reaps it. This blocks the calling
/// thread (and, from a goroutine, its M) until the child ends.
pub fn wait(pid: i32) -> Result<ExitStatus, Error> {
    sys::process::wait(pid)
}
