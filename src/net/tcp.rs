//! TCP: [`TcpListener`] and [`TcpStream`].

use super::{fd_common, fd_methods, inet, local_inet, peer_inet, prepare, Shutdown, ToSocketAddr};
use crate::poll::Fd;
use crate::sys::{self, net::Kind};
use crate::time::Instant;
use crate::Error;
use core::fmt;
use core::net::SocketAddr;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

/// A TCP socket listening for connections.
///
/// ```no_run
/// # goro::run(|| {
/// let listener = goro::net::TcpListener::bind("127.0.0.1:7878").unwrap();
/// for stream in listener.incoming() {
///     let stream = stream.unwrap();
///     // One goroutine per connection (detached).
///     drop(goro::spawn(move || {
///         let mut buf = [0u8; 4096];
///         while let Ok(n @ 1..) = stream.read(&mut buf) {
///             if stream.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     }));
/// }
/// # }).unwrap();
/// ```
pub struct TcpListener {
    fd: Fd,
}

impl TcpListener {
    /// Binds to `addr` (`SO_REUSEADDR` on, backlog
    /// [`DEFAULT_BACKLOG`](super::DEFAULT_BACKLOG)). Port 0 picks a free
    /// port: see [`TcpListener::local_addr`].
    pub fn bind(addr: impl ToSocketAddr) -> Result<TcpListener, Error> {
        TcpListener::bind_with_backlog(addr, super::DEFAULT_BACKLOG)
    }

    /// [`TcpListener::bind`] with the `listen(2)` backlog given: how many
    /// connections the kernel completes and queues before `accept` takes
    /// them (capped at `net.core.somaxconn`).
    pub fn bind_with_backlog(addr: impl ToSocketAddr, backlog: u32) -> Result<TcpListener, Error> {
        let addr = addr.to_socket_addr()?;
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        let fd = prepare(sys::net::socket_for(&addr, Kind::Stream)?, |s| {
            sys::net::set_reuseaddr(s, true)?;
            sys::net::bind(s, &addr)?;
            sys::net::listen(s, backlog)
        })?;
        Ok(TcpListener { fd: Fd::register(fd, false)? })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Fails with `Os(EMFILE)`/`Os(ENFILE)` when the process (or system)
    /// is out of fds, and with `ArenaFull` when the runtime has no poll
    /// descriptor left (that connection is closed); the listener keeps
    /// working either way. The accept timeout or deadline gives `TimedOut`;
    /// closing the listener wakes a parked `accept` with `Closed`.
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr), Error> {
        let (fd, addr) = self.fd.accept(true)?;
        let stream = TcpStream { fd };
        let peer = match addr {
            Some(a) => inet(a)?,
            None => stream.peer_addr()?,
        };
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections (errors included, as
    /// std's); it ends only when the listener is closed.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        local_inet(&self.fd)
    }

    /// Makes each `accept` fail with `TimedOut` after waiting `d`
    /// (`None`: wait forever; zero is rejected).
    pub fn set_accept_timeout(&self, d: Option<Duration>) -> Result<(), Error> {
        self.fd.set_read_timeout(d)
    }

    /// The accept timeout.
    pub fn accept_timeout(&self) -> Result<Option<Duration>, Error> {
        Ok(self.fd.read_timeout())
    }

    /// Absolute deadline for `accept`: once it passes, parked and later
    /// accepts fail with `TimedOut` until it is changed (`None` clears it).
    pub fn set_accept_deadline(&self, at: Option<Instant>) -> Result<(), Error> {
        self.fd.set_read_deadline(at)
    }

    /// Sets `IP_TTL` for connections accepted from now on.
    pub fn set_ttl(&self, ttl: u32) -> Result<(), Error> {
        self.fd.with(|s| sys::net::set_ttl(s, ttl))
    }
}

fd_common!(TcpListener);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("fd", &self.fd.as_raw_fd()).field("addr", &self.local_addr().ok()).finish()
    }
}

/// Iterator over [`TcpListener::accept`]ed streams; see
/// [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = Result<TcpStream, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.listener.accept() {
            Err(Error::Closed) => None,
            r => Some(r.map(|(s, _)| s)),
        }
    }
}

/// `NotInGoroutine` unless called from a goroutine.
fn in_goroutine() -> Result<(), Error> {
    crate::sched::current().map(|_| ()).ok_or(Error::NotInGoroutine)
}

/// A TCP connection.
///
/// All methods take `&self`: share the stream (`Arc<TcpStream>`) to read in
/// one goroutine while another writes. `read` returning `Ok(0)` is end of
/// stream.
pub struct TcpStream {
    fd: Fd,
}

fd_methods!(TcpStream);

impl TcpStream {
    /// Connects to `addr`, parking until the connection is established or
    /// fails (`Os(ECONNREFUSED)`, ...); [`TcpStream::connect_timeout`]
    /// bounds the wait. Only a goroutine can connect (`NotInGoroutine`
    /// elsewhere, before any packet is sent): a TCP connect always waits.
    pub fn connect(addr: impl ToSocketAddr) -> Result<TcpStream, Error> {
        let addr = addr.to_socket_addr()?;
        in_goroutine()?;
        let fd = Fd::register(sys::net::socket_for(&addr, Kind::Stream)?, true)?;
        fd.connect(&addr)?;
        Ok(TcpStream { fd })
    }

    /// Connects, failing with `TimedOut` if the connection is not
    /// established within `timeout` (zero is `InvalidInput`).
    pub fn connect_timeout(addr: impl ToSocketAddr, timeout: Duration) -> Result<TcpStream, Error> {
        if timeout.is_zero() {
            return Err(Error::InvalidInput("connect_timeout: zero timeout"));
        }
        let addr = addr.to_socket_addr()?;
        in_goroutine()?;
        let fd = Fd::register(sys::net::socket_for(&addr, Kind::Stream)?, true)?;
        // `Fd::connect` waits for writability: the write timeout bounds it.
        fd.set_write_timeout(Some(timeout))?;
        fd.connect(&addr)?;
        fd.set_write_timeout(None)?;
        Ok(TcpStream { fd })
    }

    /// Reads into `buf`, parking until at least one byte is there; `Ok(0)`
    /// is end of stream (or an empty `buf`). A reset connection is
    /// `Os(ECONNRESET)`.
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

    /// Writes some of `buf` (at least one byte unless `buf` is empty),
    /// parking while the socket buffer is full.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        super::send(&self.fd, buf)
    }

    /// Writes from several buffers at once (`sendmsg`, at most 64 of
    /// them): any byte buffers (`&[u8]`, `std::io::IoSlice`, ...).
    pub fn write_vectored<B: Deref<Target = [u8]>>(&self, bufs: &[B]) -> Result<usize, Error> {
        super::send_vectored(&self.fd, bufs)
    }

    /// Writes all of `buf`. Concurrent writers never interleave inside one
    /// `write_all`. On error, the bytes already written stay written.
    pub fn write_all(&self, buf: &[u8]) -> Result<(), Error> {
        super::send_all(&self.fd, buf)
    }

    /// Nothing to flush (no user-space buffer): always `Ok`.
    pub fn flush(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Shuts down the read half, the write half, or both.
    /// `Shutdown::Write` sends FIN: the peer reads end of stream after
    /// everything written before.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        super::shutdown(&self.fd, how)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> Result<SocketAddr, Error> {
        peer_inet(&self.fd)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        local_inet(&self.fd)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, on: bool) -> Result<(), Error> {
        self.fd.with(|s| sys::net::set_nodelay(s, on))
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> Result<bool, Error> {
        self.fd.with(sys::net::nodelay)
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes close send a reset
    /// (RST) instead of a FIN, discarding unsent data.
    pub fn set_linger(&self, linger: Option<Duration>) -> Result<(), Error> {
        self.fd.with(|s| sys::net::set_linger(s, linger))
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> Result<Option<Duration>, Error> {
        self.fd.with(sys::net::linger)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> Result<(), Error> {
        self.fd.with(|s| sys::net::set_ttl(s, ttl))
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> Result<u32, Error> {
        self.fd.with(sys::net::ttl)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>, Error> {
        Ok(self.fd.with(sys::net::take_error)?.err().map(Error::from))
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
