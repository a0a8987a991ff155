//! Unix-domain streams: [`UnixListener`] and [`UnixStream`].
//!
//! Addresses are filesystem paths (`impl AsRef<[u8]>`, so `&str` works) or
//! Linux abstract names (`*_abstract`), or a [`UnixAddr`]. As with std, a
//! path listener leaves its socket file behind when closed: remove it
//! before binding the same path again.

use super::{fd_common, fd_methods, prepare, Shutdown, UnixAddr};
use crate::poll::Fd;
use crate::sys::{self, net::Kind};
use crate::time::Instant;
use crate::Error;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

/// Whether a short read from a Unix stream means it was drained: no. The
/// kernel ends a read early, with more bytes queued, after a message that
/// carried file descriptors (`SCM_RIGHTS`, which any peer may send) and,
/// with `SO_PASSCRED`, between messages from different writers. No new
/// readiness edge follows, so skipping the next read's `EAGAIN` check
/// could park a reader with data waiting: Unix streams always read until
/// `EAGAIN` (one more system call per wait than TCP).
const SHORT_READS_DRAIN: bool = false;

/// A Unix-domain stream socket listening for connections. Closing it
/// leaves a path-bound socket file in place (remove it yourself).
pub struct UnixListener {
    fd: Fd,
}

impl UnixListener {
    /// Binds to the filesystem path `path` (which must not exist yet).
    pub fn bind(path: impl AsRef<[u8]>) -> Result<UnixListener, Error> {
        UnixListener::bind_addr(&UnixAddr::from_pathname(path)?)
    }

    /// Binds to the Linux abstract name `name` (no file is created).
    pub fn bind_abstract(name: impl AsRef<[u8]>) -> Result<UnixListener, Error> {
        UnixListener::bind_addr(&UnixAddr::from_abstract_name(name)?)
    }

    /// Binds to `addr` (backlog [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG)).
    pub fn bind_addr(addr: &UnixAddr) -> Result<UnixListener, Error> {
        let fd = prepare(sys::net::socket_unix(Kind::Stream)?, |s| {
            sys::net::bind(s, &addr.0)?;
            sys::net::listen(s, super::DEFAULT_BACKLOG as i32)
        })?;
        Ok(UnixListener { fd: Fd::register(fd, false)? })
    }

    /// Waits for a connection; returns it with the peer's address (usually
    /// unnamed). Errors as [`TcpListener::accept`](super::TcpListener::accept).
    pub fn accept(&self) -> Result<(UnixStream, UnixAddr), Error> {
        // No short-read shortcut on Unix streams (`SHORT_READS_DRAIN`).
        let (fd, addr) = self.fd.accept(SHORT_READS_DRAIN)?;
        Ok((UnixStream { fd }, UnixAddr::from_kernel(addr)?))
    }

    /// An endless iterator of accepted connections; it ends only when the
    /// listener is closed.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Result<UnixAddr, Error> {
        UnixAddr::from_kernel(Some(self.fd.with(sys::net::local_addr)?))
    }

    /// Makes each `accept` fail with `TimedOut` after waiting `d`.
    pub fn set_accept_timeout(&self, d: Option<Duration>) -> Result<(), Error> {
        self.fd.set_read_timeout(d)
    }

    /// Absolute deadline for `accept` (sticky until changed).
    pub fn set_accept_deadline(&self, at: Option<Instant>) -> Result<(), Error> {
        self.fd.set_read_deadline(at)
    }
}

fd_common!(UnixListener);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("fd", &self.fd.as_raw_fd()).field("addr", &self.local_addr().ok()).finish()
    }
}

/// Iterator over [`UnixListener::accept`]ed streams.
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = Result<UnixStream, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.listener.accept() {
            Err(Error::Closed) => None,
            r => Some(r.map(|(s, _)| s)),
        }
    }
}

/// A Unix-domain stream connection; used like [`TcpStream`](super::TcpStream).
pub struct UnixStream {
    fd: Fd,
}

fd_methods!(UnixStream);

impl UnixStream {
    /// Connects to the listener at filesystem path `path`.
    ///
    /// A listener whose backlog is full refuses at once with `Os(EAGAIN)`
    /// (Linux does not queue non-blocking Unix connects), as in Go.
    pub fn connect(path: impl AsRef<[u8]>) -> Result<UnixStream, Error> {
        UnixStream::connect_addr(&UnixAddr::from_pathname(path)?)
    }

    /// Connects to the listener with Linux abstract name `name`.
    pub fn connect_abstract(name: impl AsRef<[u8]>) -> Result<UnixStream, Error> {
        UnixStream::connect_addr(&UnixAddr::from_abstract_name(name)?)
    }

    /// Connects to `addr`.
    pub fn connect_addr(addr: &UnixAddr) -> Result<UnixStream, Error> {
        let fd = Fd::register(sys::net::socket_unix(Kind::Stream)?, SHORT_READS_DRAIN)?;
        fd.connect(&addr.0)?;
        Ok(UnixStream { fd })
    }

    /// A connected pair of unnamed streams (`socketpair`).
    pub fn pair() -> Result<(UnixStream, UnixStream), Error> {
        let (a, b) = sys::net::socketpair(Kind::Stream)?;
        // On failure, whichever end is left (an OwnedFd or an Fd) closes
        // when dropped.
        let a = Fd::register(a, SHORT_READS_DRAIN)?;
        let b = Fd::register(b, SHORT_READS_DRAIN)?;
        Ok((UnixStream { fd: a }, UnixStream { fd: b }))
    }

    /// Reads into `buf`; `Ok(0)` is end of stream.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.fd.recv_stream(buf)
    }

    /// Reads into `buf` as [`read`](Self::read) does, but leaves the bytes
    /// queued (`MSG_PEEK`): the next read returns them again.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize, Error> {
        super::peek_stream(&self.fd, buf)
    }

    /// Reads into several buffers at once (`readv`, at most 64 of them):
    /// any mutable byte buffers (`&mut [u8]`, `std::io::IoSliceMut`, ...).
    pub fn read_vectored<B: DerefMut<Target = [u8]>>(&self, bufs: &mut [B]) -> Result<usize, Error> {
        self.fd.read_vectored(bufs)
    }

    /// Writes some of `buf`.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        super::send(&self.fd, buf)
    }

    /// Writes from several buffers at once (`sendmsg`, at most 64).
    pub fn write_vectored<B: Deref<Target = [u8]>>(&self, bufs: &[B]) -> Result<usize, Error> {
        super::send_vectored(&self.fd, bufs)
    }

    /// Writes all of `buf` (never interleaved with other writers).
    pub fn write_all(&self, buf: &[u8]) -> Result<(), Error> {
        super::send_all(&self.fd, buf)
    }

    /// Nothing to flush: always `Ok`.
    pub fn flush(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        super::shutdown(&self.fd, how)
    }

    /// The local address (unnamed for a connecting or paired socket).
    pub fn local_addr(&self) -> Result<UnixAddr, Error> {
        UnixAddr::from_kernel(Some(self.fd.with(sys::net::local_addr)?))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<UnixAddr, Error> {
        UnixAddr::from_kernel(self.fd.with(sys::net::peer_addr)?)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>, Error> {
        Ok(self.fd.with(sys::net::take_error)?.err().map(Error::from))
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
