//! epoll and eventfd, for the netpoller.
#![allow(unsafe_code)]

use super::{count, Sys};
use rustix::event::{epoll, EventfdFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

pub(crate) use epoll::Event;
pub(crate) use epoll::EventFlags as Flags;

/// `epoll_create1(EPOLL_CLOEXEC)`.
#[doc(alias = "epoll_create1")]
pub(crate) fn create() -> Result<OwnedFd, Errno> {
    epoll::create(epoll::CreateFlags::CLOEXEC)
}

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
pub(crate) fn eventfd() -> Result<OwnedFd, Errno> {
    rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
}

/// Borrows a raw fd the caller keeps open for the borrow's duration.
pub(crate) fn borrow(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: callers (the poll layer) only pass fds they hold a reference
    // on: the fd stays open while the syscall that uses the borrow runs.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// `epoll_ctl(ADD)`.
#[doc(alias = "epoll_ctl")]
pub(crate) fn add(ep: BorrowedFd<'_>, fd: BorrowedFd<'_>, data: u64, flags: Flags) -> Result<(), Errno> {
    count(Sys::EpollCtl);
    epoll::add(ep, fd, epoll::EventData::new_u64(data), flags)
}

/// `epoll_ctl(DEL)`.
#[doc(alias = "epoll_ctl")]
pub(crate) fn delete(ep: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    count(Sys::EpollCtl);
    epoll::delete(ep, fd)
}

/// `epoll_pwait(ep, events, timeout_ms, NULL)`; `timeout_ms < 0` blocks.
/// Returns the filled part of `events`.
#[doc(alias = "epoll_pwait")]
pub(crate) fn wait<'a>(
    ep: BorrowedFd<'_>,
    events: &'a mut [core::mem::MaybeUninit<Event>],
    timeout_ms: i32,
) -> Result<&'a mut [Event], Errno> {
    count(Sys::EpollWait);
    let ts;
    let timeout = if timeout_ms < 0 {
        None
    } else {
        ts = rustix::time::Timespec {
            tv_sec: i64::from(timeout_ms / 1000),
            tv_nsec: i64::from(timeout_ms % 1000) * 1_000_000,
        };
        Some(&ts)
    };
    epoll::wait(ep, events, timeout).map(|(filled, _)| filled)
}

/// Adds 1 to an eventfd counter.
pub(crate) fn eventfd_signal(fd: impl AsFd) -> Result<(), Errno> {
    count(Sys::Write);
    rustix::io::write(fd, &1u64.to_ne_bytes()).map(|_| ())
}

/// Reads (and so resets) an eventfd counter.
pub(crate) fn eventfd_drain(fd: impl AsFd) {
    count(Sys::Read);
    let mut b = [0u8; 8];
    let _ = rustix::io::read(fd, &mut b);
}
