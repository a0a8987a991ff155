//! `Fd`: a non-blocking fd registered with the netpoller, with Go's fdMutex
//! rules: reference counting, one reader and one writer in flight, and a
//! close that wakes everyone and releases the fd only when the last user
//! leaves. One try-then-park loop (`Fd::io`) serves every operation.
//!
//! # Rules
//!
//! - Every operation takes a reference (and, for reads and writes, the
//!   direction's lock) under `PollDesc::fdmu`, after checking that the
//!   descriptor's generation still matches: a stale `Fd` can never reach an
//!   fd number that was closed and reused.
//! - `close` marks the fd closing, wakes goroutines waiting for the locks
//!   and for readiness (they return `Error::Closed`), and the last reference
//!   to leave unregisters the fd from epoll, frees the descriptor and calls
//!   `close(2)`, in that order. No syscall runs on the fd after that.

use crate::arena::Handle;
use crate::netpoll::{self, Limit, Mode, PollDesc};
use crate::sched::{self, GList};
use crate::sys::{self, epoll, AsFdBorrowed, BorrowedFd, Errno, OwnedFd};
use crate::time::{self, Instant};
use crate::Error;
use core::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use core::time::Duration;

/// Reference count and direction locks of one descriptor, guarded by
/// `PollDesc::fdmu`.
pub(crate) struct FdMu {
    refs: u32,
    closing: bool,
    rlocked: bool,
    wlocked: bool,
    /// Goroutines waiting for the read / write lock.
    rq: GList,
    wq: GList,
}

impl FdMu {
    pub(crate) const fn new() -> Self {
        FdMu { refs: 0, closing: false, rlocked: false, wlocked: false, rq: GList::new(), wq: GList::new() }
    }

    fn locked(&mut self, mode: Mode) -> &mut bool {
        match mode {
            Mode::Read => &mut self.rlocked,
            Mode::Write => &mut self.wlocked,
        }
    }

    fn queue(&mut self, mode: Mode) -> &mut GList {
        match mode {
            Mode::Read => &mut self.rq,
            Mode::Write => &mut self.wq,
        }
    }
}

/// A non-blocking fd whose blocking-style operations park the calling
/// goroutine until the fd is ready.
///
/// Use it to wrap fds goro does not know (pipes, eventfds, character
/// devices): [`Fd::new`] makes the fd non-blocking and registers it;
/// [`Fd::read`], [`Fd::write`], [`Fd::wait_readable`] and
/// [`Fd::wait_writable`] park instead of blocking the thread. Operations
/// that would park must run on a goroutine (`Error::NotInGoroutine`
/// otherwise).
pub struct Fd {
    h: Handle,
    /// The run `h` belongs to (`rt::epoch`): an `Fd` that outlived its run
    /// is closed for good, whatever runtime runs now.
    epoch: u32,
    fd: i32,
    /// Reads are short only when the fd was drained (TCP streams): enables
    /// the short-read shortcut.
    short_drains: bool,
    /// Per-operation timeouts (ns, 0 = none), as `std`'s socket timeouts.
    /// The deadlines live in the poll descriptor, which arms the earlier
    /// of a deadline and the running operation's timeout (`netpoll::Limit`).
    read_timeout: AtomicI64,
    write_timeout: AtomicI64,
    /// The raw fd is still open: cleared by `destroy`, the one place that
    /// closes it while its run lasts.
    open: AtomicBool,
}

/// A held reference (and maybe a direction lock) on an `Fd`.
struct Ref<'a> {
    fd: &'a Fd,
    pd: &'static PollDesc,
    mode: Option<Mode>,
}

impl Drop for Ref<'_> {
    fn drop(&mut self) {
        self.fd.release(self.pd, self.mode);
    }
}

impl Fd {
    /// Registers `fd` (made non-blocking here) with the netpoller. Fails
    /// with `ArenaFull` when every poll descriptor is in use, with the
    /// `epoll_ctl` error (e.g. `Os(EPERM)` for a regular file, which epoll
    /// cannot watch), or with `NotInGoroutine` before the process's first
    /// `goro::run`; the fd is closed on failure (keep a `dup` of it if you
    /// need it back), and its status flags are put back first: the
    /// non-blocking mode is a property of the open file, shared with every
    /// `dup` of it, so a failed wrap leaves a blocking file blocking.
    pub fn new(fd: OwnedFd) -> Result<Fd, Error> {
        if !netpoll::installed() {
            return Err(Error::NotInGoroutine);
        }
        let was = sys::net::set_nonblocking(fd.as_fd_borrowed())?;
        Fd::register_restoring(fd, false, Some(was))
    }

    /// Registers an fd that is already non-blocking; `short_drains`
    /// enables the short-read shortcut (only for fds where a short read
    /// means drained).
    pub(crate) fn register(fd: OwnedFd, short_drains: bool) -> Result<Fd, Error> {
        Fd::register_restoring(fd, short_drains, None)
    }

    /// [`Fd::register`], putting back the status flags `restore` (if any)
    /// before closing the fd on failure.
    fn register_restoring(fd: OwnedFd, short_drains: bool, restore: Option<sys::OFlags>) -> Result<Fd, Error> {
        let fail = |fd: OwnedFd, e: Error| {
            if let Some(fl) = restore {
                sys::net::restore_status_flags(fd.as_fd_borrowed(), fl);
            }
            sys::close_raw(sys::into_raw(fd));
            Err(e)
        };
        if !netpoll::installed() {
            // No runtime has run yet: there is no poller to register with.
            return fail(fd, Error::NotInGoroutine);
        }
        // The epoch before the arena (see `rt::epoch`): a run starting in
        // between leaves a stale epoch on a fresh handle, never the reverse.
        let epoch = crate::rt::epoch();
        match netpoll::open(sys::raw_of(&fd)) {
            Ok(h) => {
                let raw = sys::into_raw(fd);
                let pd = netpoll::get(h).unwrap_or_else(|| crate::fatal("goro: poll: fresh descriptor vanished"));
                let mut mu = pd.fdmu.lock();
                *mu = FdMu::new();
                drop(mu);
                Ok(Fd {
                    h,
                    epoch,
                    fd: raw,
                    short_drains,
                    read_timeout: AtomicI64::new(0),
                    write_timeout: AtomicI64::new(0),
                    open: AtomicBool::new(true),
                })
            }
            Err(e) => fail(fd, e),
        }
    }

    /// A non-blocking pipe: (read end, write end), both registered.
    ///
    /// Reads from it always go on until `EAGAIN` (no short-read shortcut):
    /// a writer that turns on packet mode (`O_DIRECT`, which `fcntl` can
    /// set on either end at any time) makes every read return one packet,
    /// short or not, with more queued.
    pub fn pipe() -> Result<(Fd, Fd), Error> {
        let (r, w) = sys::net::pipe()?;
        let r = Fd::register(r, false)?;
        Ok((r, Fd::register(w, false)?))
    }

    /// The raw fd number (valid until the `Fd` is closed).
    pub fn as_raw_fd(&self) -> i32 {
        self.fd
    }

    /// The poll descriptor, unless the fd was closed or outlived its run.
    fn pd(&self) -> Option<&'static PollDesc> {
        let pd = netpoll::get(self.h)?;
        (self.epoch == crate::rt::epoch()).then_some(pd)
    }

    fn borrow(&self) -> BorrowedFd<'static> {
        epoll::borrow(self.fd)
    }

    /// Takes a reference, and the `mode` lock if given (parking while another
    /// goroutine holds it).
    fn acquire(&self, mode: Option<Mode>) -> Result<Ref<'_>, Error> {
        loop {
            let pd = self.pd().ok_or(Error::Closed)?;
            let mut mu = pd.fdmu.lock();
            // Re-check the generation under the lock: the descriptor cannot
            // be freed while we hold a reference, nor reused while we hold
            // its lock with a matching generation.
            if self.pd().is_none() || mu.closing {
                return Err(Error::Closed);
            }
            match mode {
                None => {}
                Some(m) if !*mu.locked(m) => *mu.locked(m) = true,
                Some(m) => {
                    drop(mu);
                    let me = sched::current().ok_or(Error::NotInGoroutine)?;
                    sched::park(me, |g| {
                        let mut mu = pd.fdmu.lock();
                        if mu.closing || !*mu.locked(m) {
                            return false;
                        }
                        mu.queue(m).push(g);
                        true
                    });
                    continue;
                }
            }
            mu.refs += 1;
            return Ok(Ref { fd: self, pd, mode });
        }
    }

    /// Drops a reference (and lock); the last one out of a closing fd
    /// destroys it.
    fn release(&self, pd: &'static PollDesc, mode: Option<Mode>) {
        let (next, destroy) = {
            let mut mu = pd.fdmu.lock();
            let next = mode.and_then(|m| {
                *mu.locked(m) = false;
                mu.queue(m).pop()
            });
            mu.refs -= 1;
            (next, mu.closing && mu.refs == 0)
        };
        if let Some(g) = next {
            sched::ready(g);
        }
        if destroy {
            self.destroy();
        }
    }

    /// Unregisters, frees the descriptor and closes the fd.
    fn destroy(&self) {
        netpoll::close(self.h);
        self.open.store(false, Ordering::Relaxed);
        sys::close_raw(self.fd);
    }

    /// Closes the fd: goroutines blocked on it wake with `Error::Closed`;
    /// the fd itself is closed once the last of them has left. Closing twice
    /// returns `Error::Closed`.
    pub fn close(&self) -> Result<(), Error> {
        let pd = self.pd().ok_or(Error::Closed)?;
        let mut wake = GList::new();
        let destroy = {
            let mut mu = pd.fdmu.lock();
            if self.pd().is_none() || mu.closing {
                return Err(Error::Closed);
            }
            mu.closing = true;
            while let Some(g) = mu.rq.pop() {
                wake.push(g);
            }
            while let Some(g) = mu.wq.pop() {
                wake.push(g);
            }
            mu.refs == 0
        };
        netpoll::evict(self.h, &mut wake);
        sched::ready_list(&mut wake);
        if destroy {
            self.destroy();
        }
        Ok(())
    }

    /// The try-then-park loop: runs `op` until it does not return `EAGAIN`,
    /// parking on `mode` readiness in between; `EINTR` is retried. Every
    /// I/O call is a yield point: a preemption request from sysmon is
    /// honoured on the way out (after the fd's lock is released).
    pub(crate) fn io<T>(
        &self,
        mode: Mode,
        op: impl FnMut(BorrowedFd<'static>) -> Result<T, Errno>,
    ) -> Result<T, Error> {
        let out = self.io_locked(mode, op);
        sched::preempt_point();
        out
    }

    fn io_locked<T>(
        &self,
        mode: Mode,
        mut op: impl FnMut(BorrowedFd<'static>) -> Result<T, Errno>,
    ) -> Result<T, Error> {
        let r = self.acquire(Some(mode))?;
        let _t = self.start_timeout(mode)?;
        r.pd.prepare(mode)?;
        loop {
            match op(self.borrow()) {
                Ok(v) => return Ok(v),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => r.pd.wait(mode)?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs `op` with a reference held (no lock, no waiting): for option
    /// and address calls.
    pub(crate) fn with<T>(&self, op: impl FnOnce(BorrowedFd<'static>) -> Result<T, Errno>) -> Result<T, Error> {
        let _r = self.acquire(None)?;
        op(self.borrow()).map_err(Error::from)
    }

    /// Reads into `buf`; `Ok(0)` is end of file (or an empty `buf`).
    ///
    /// On TCP streams a short read means the socket was drained at that
    /// moment, so the next read skips the syscall that would return
    /// `EAGAIN` and parks at once, unless a read-readiness event arrived in
    /// between (the descriptor's event counter guards that decision), the
    /// peer has hung up (end of stream raises no further edge) or urgent
    /// data has arrived (a read stops short at its mark). Pipes, wrapped
    /// fds, datagram and Unix stream sockets always read until `EAGAIN`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len();
        self.read_op(len, |fd| sys::net::read(fd, buf))
    }

    /// [`Fd::read`] for a connected stream socket: `recv` rather than
    /// `read`, which skips the VFS layer (position lock, access
    /// notification) on every call.
    pub(crate) fn recv_stream(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len();
        self.read_op(len, |fd| sys::net::recv(fd, buf, false))
    }

    /// Reads into several buffers (`readv`, at most `sys::net::MAX_IOV` of
    /// them per call), with [`Fd::read`]'s short-read rule.
    pub(crate) fn read_vectored<B: core::ops::DerefMut<Target = [u8]>>(&self, bufs: &mut [B]) -> Result<usize, Error> {
        let len: usize = bufs.iter().filter(|b| !b.is_empty()).take(sys::net::MAX_IOV).map(|b| b.len()).sum();
        if len == 0 {
            return Ok(0);
        }
        self.read_op(len, |fd| sys::net::readv(fd, bufs))
    }

    /// The read loop behind [`Fd::read`]: `op` reads at most `len` bytes.
    /// A yield point, as [`Fd::io`].
    fn read_op(&self, len: usize, op: impl FnMut(BorrowedFd<'static>) -> Result<usize, Errno>) -> Result<usize, Error> {
        let out = self.read_op_locked(len, op);
        sched::preempt_point();
        out
    }

    fn read_op_locked(
        &self,
        len: usize,
        mut op: impl FnMut(BorrowedFd<'static>) -> Result<usize, Errno>,
    ) -> Result<usize, Error> {
        let r = self.acquire(Some(Mode::Read))?;
        let _t = self.start_timeout(Mode::Read)?;
        let pd = r.pd;
        pd.prepare(Mode::Read)?;
        loop {
            let ev = pd.rev.load(Ordering::SeqCst);
            if pd.drained.load(Ordering::Relaxed)
                && pd.drained_at.load(Ordering::Relaxed) == ev
                && !pd.no_skip.load(Ordering::SeqCst)
            {
                // Drained, and no readiness since: wait without the syscall.
                pd.wait(Mode::Read)?;
                pd.drained.store(false, Ordering::Relaxed);
                continue;
            }
            match op(self.borrow()) {
                Ok(n) => {
                    let short = self.short_drains && n > 0 && n < len;
                    pd.drained.store(short, Ordering::Relaxed);
                    pd.drained_at.store(ev, Ordering::Relaxed);
                    return Ok(n);
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    pd.drained.store(false, Ordering::Relaxed);
                    pd.wait(Mode::Read)?;
                }
                Err(e) => {
                    pd.drained.store(false, Ordering::Relaxed);
                    return Err(e.into());
                }
            }
        }
    }

    /// Accepts a connection: `accept4(NONBLOCK | CLOEXEC)`, parking until
    /// one arrives. The new fd is registered (with `short_drains`: see
    /// [`Fd::register`]).
    /// `ECONNABORTED` (a connection reset while queued) is skipped; `EMFILE`
    /// and `ENFILE` are returned and the listener keeps working.
    pub(crate) fn accept(&self, short_drains: bool) -> Result<(Fd, Option<sys::net::SocketAddrAny>), Error> {
        let (fd, addr) = self.io(Mode::Read, |fd| loop {
            match sys::net::accept(fd) {
                Err(Errno::CONNABORTED) => continue,
                r => return r,
            }
        })?;
        Ok((Fd::register(fd, short_drains)?, addr))
    }

    /// Connects a non-blocking socket: on `EINPROGRESS` parks until the fd
    /// is writable, then reads `SO_ERROR`. Honours the write deadline and
    /// write timeout (as the connect timeout).
    pub(crate) fn connect(&self, addr: &impl rustix::net::addr::SocketAddrArg) -> Result<(), Error> {
        let r = self.acquire(Some(Mode::Write))?;
        let _t = self.start_timeout(Mode::Write)?;
        r.pd.prepare(Mode::Write)?;
        match sys::net::connect(self.borrow(), addr) {
            Ok(()) => return Ok(()),
            // EINTR: the connection continues in the background, as with
            // EINPROGRESS.
            Err(Errno::INPROGRESS | Errno::INTR | Errno::ALREADY) => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            r.pd.wait(Mode::Write)?;
            match sys::net::take_error(self.borrow())? {
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    // Writable with no error: connected, unless the wake-up
                    // was spurious (then getpeername says ENOTCONN).
                    match sys::net::peer_addr(self.borrow()) {
                        Ok(_) => return Ok(()),
                        Err(Errno::NOTCONN) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Writes all of `buf` (continuing after partial writes), parking while
    /// the fd is not writable. Returns `buf.len()`, or the error that
    /// stopped it (bytes already written stay written).
    pub fn write_all(&self, buf: &[u8]) -> Result<usize, Error> {
        let mut done = 0;
        self.io(Mode::Write, |fd| {
            while done < buf.len() {
                done += sys::net::write(fd, &buf[done..])?;
            }
            Ok(done)
        })
    }

    /// Writes some of `buf` (one successful `write`).
    pub fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.io(Mode::Write, |fd| sys::net::write(fd, buf))
    }

    /// Parks until the fd is readable (or closed / timed out).
    ///
    /// Readiness is edge-triggered: call this only after an operation on
    /// the fd returned `EAGAIN`. It returns once a readiness edge has
    /// arrived, possibly one from before the call that nothing consumed
    /// yet, so a return can be spurious: retry the operation and wait again
    /// only on `EAGAIN`. Waiting while unread data is already queued (no
    /// `EAGAIN` seen) may park until the next edge.
    pub fn wait_readable(&self) -> Result<(), Error> {
        let r = self.acquire(Some(Mode::Read))?;
        let _t = self.start_timeout(Mode::Read)?;
        r.pd.wait(Mode::Read)
    }

    /// Parks until the fd is writable (or closed / timed out). The same
    /// contract as [`Fd::wait_readable`]: only after `EAGAIN`.
    pub fn wait_writable(&self) -> Result<(), Error> {
        let r = self.acquire(Some(Mode::Write))?;
        let _t = self.start_timeout(Mode::Write)?;
        r.pd.wait(Mode::Write)
    }

    /// Sets the absolute deadline for reads (`None` clears it). A deadline
    /// in the past makes pending and future reads fail with `TimedOut`
    /// until it is changed.
    pub fn set_read_deadline(&self, at: Option<Instant>) -> Result<(), Error> {
        self.set_deadline(Mode::Read, at)
    }

    /// Sets the absolute deadline for writes (see [`Fd::set_read_deadline`]).
    pub fn set_write_deadline(&self, at: Option<Instant>) -> Result<(), Error> {
        self.set_deadline(Mode::Write, at)
    }

    pub(crate) fn set_deadline(&self, mode: Mode, at: Option<Instant>) -> Result<(), Error> {
        let ns = at.map_or(0, |t| t.as_nanos().max(1));
        let _r = self.acquire(None)?;
        self.arm(mode, Limit::Deadline, ns)
    }

    /// Sets the descriptor's `mode` limit `which` to `ns` (0: none) and
    /// arms the earlier of its deadline and operation timeout.
    fn arm(&self, mode: Mode, which: Limit, ns: i64) -> Result<(), Error> {
        let mut wake = GList::new();
        let r = netpoll::set_deadline(self.h, mode, which, ns, &mut wake);
        sched::ready_list(&mut wake);
        r
    }

    /// Per-operation timeout for reads, as `std`'s `set_read_timeout`:
    /// each read fails with `TimedOut` if it waits longer than `d`, or
    /// past the read deadline if that comes first (the two combine; neither
    /// replaces the other). A change applies to the reads that start after
    /// it: one already waiting keeps the timeout it started with, whatever
    /// happens to the timeout or the deadline meanwhile.
    /// `Some(Duration::ZERO)` is rejected (`InvalidInput`), as in `std`;
    /// on a closed fd this is `Closed`.
    pub fn set_read_timeout(&self, d: Option<Duration>) -> Result<(), Error> {
        self.set_timeout(&self.read_timeout, d)
    }

    /// Per-operation timeout for writes (see [`Fd::set_read_timeout`]).
    pub fn set_write_timeout(&self, d: Option<Duration>) -> Result<(), Error> {
        self.set_timeout(&self.write_timeout, d)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        let ns = self.read_timeout.load(Ordering::Relaxed);
        (ns > 0).then(|| Duration::from_nanos(ns as u64))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        let ns = self.write_timeout.load(Ordering::Relaxed);
        (ns > 0).then(|| Duration::from_nanos(ns as u64))
    }

    fn set_timeout(&self, slot: &AtomicI64, d: Option<Duration>) -> Result<(), Error> {
        let ns = match d {
            Some(d) if d.is_zero() => return Err(Error::InvalidInput("a zero timeout is not allowed")),
            Some(d) => time::dur_ns(d),
            None => 0,
        };
        // Closed is an error either way; an operation in flight keeps the
        // timeout it started with.
        let _r = self.acquire(None)?;
        slot.store(ns, Ordering::Relaxed);
        Ok(())
    }

    /// Starts the operation's timeout, if one is set: it ends the wait at
    /// now + timeout, or at the deadline if that comes first. The guard
    /// withdraws it when the operation ends, so a finished operation's
    /// timeout can never expire a later one, and a deadline or timeout
    /// changed meanwhile by another goroutine never cancels it.
    fn start_timeout(&self, mode: Mode) -> Result<OpTimeout<'_>, Error> {
        let t = match mode {
            Mode::Read => &self.read_timeout,
            Mode::Write => &self.write_timeout,
        };
        let ns = t.load(Ordering::Relaxed);
        if ns > 0 {
            self.arm(mode, Limit::Op, time::nanotime().saturating_add(ns))?;
        }
        Ok(OpTimeout { fd: self, mode, armed: ns > 0 })
    }
}

/// An operation's timeout, withdrawn when the operation ends.
struct OpTimeout<'a> {
    fd: &'a Fd,
    mode: Mode,
    armed: bool,
}

impl Drop for OpTimeout<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Fails only if the fd was closed meanwhile: nothing to withdraw.
            let _ = self.fd.arm(self.mode, Limit::Op, 0);
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        if self.close().is_err() && *self.open.get_mut() {
            // The fd outlived its run: the runtime let go of its descriptor
            // without closing it (abandoned, as at a Go program's exit), so
            // the number is still ours and nobody else can hold it. Close
            // it; the kernel drops its epoll registration with it. (`close`
            // failing with the fd open is only this: a `Drop` has no
            // `Ref`s left, so a close in progress would have finished.)
            *self.open.get_mut() = false;
            sys::close_raw(self.fd);
        }
    }
}

impl core::fmt::Debug for Fd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fd").field("fd", &self.fd).finish()
    }
}
