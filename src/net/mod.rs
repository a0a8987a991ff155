//! Blocking-style sockets: TCP, UDP and Unix-domain, in the shape of
//! `std::net` and `std::os::unix::net`.
//!
//! Every call that would block parks the calling goroutine on the
//! netpoller ([`crate::poll::Fd`]) instead of blocking its thread, so tens of
//! thousands of connections can each have a goroutine written as plain
//! sequential code. Such calls must run on a goroutine (inside
//! [`crate::run`]); from a plain thread they fail with
//! [`Error::NotInGoroutine`] when they would have to wait.
//!
//! ```no_run
//! use goro::net::{TcpListener, TcpStream};
//!
//! goro::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = goro::spawn(move || {
//!         let (s, _) = listener.accept().unwrap();
//!         let mut buf = [0u8; 64];
//!         let n = s.read(&mut buf).unwrap();
//!         s.write_all(&buf[..n]).unwrap();
//!     })
//!     .unwrap();
//!     let c = TcpStream::connect(addr).unwrap();
//!     c.write_all(b"ping").unwrap();
//!     let mut buf = [0u8; 4];
//!     let mut got = 0;
//!     while got < 4 {
//!         got += c.read(&mut buf[got..]).unwrap();
//!     }
//!     server.join().unwrap();
//! })
//! .unwrap();
//! ```
//!
//! # Differences from `std::net`
//!
//! - **No name resolution.** There is no DNS without libc: addresses are
//!   numeric (`"127.0.0.1:80"`, `"[::1]:80"`), and `"localhost:PORT"` means
//!   `127.0.0.1:PORT`. Any other host name is [`Error::InvalidInput`]. See
//!   [`ToSocketAddr`].
//! - **Timeouts fail with [`Error::TimedOut`]** (std reports `WouldBlock`
//!   on Unix). Besides std's per-operation timeouts, every socket has Go's
//!   absolute deadlines (`set_read_deadline`, `set_write_deadline`): an
//!   expired deadline stays expired until it is changed. A write timeout
//!   bounds a whole `write_all`, not each `write` inside it.
//! - **Shared use.** Reads and writes take `&self`: one goroutine may read
//!   while another writes the same socket (share it in an `Arc`). Two
//!   readers (or two writers) take turns; `write_all` holds the write side
//!   for the whole buffer, so concurrent `write_all`s never interleave.
//! - **`close()`** closes the socket at once from any goroutine: goroutines
//!   parked in its operations wake with [`Error::Closed`], later calls fail
//!   with it, and the fd is released when the last of them has left.
//!   Dropping the socket closes it too.
//! - **No SIGPIPE.** Writes on sockets use `send(MSG_NOSIGNAL)`, so a reset
//!   connection fails with `Error::Os(EPIPE)` or `Os(ECONNRESET)` instead of
//!   killing a process that has not ignored the signal.
//! - **Unix paths are bytes** (`impl AsRef<[u8]>`, so `&str` works): there
//!   is no `std::path` in `no_std`. Linux abstract names have their own
//!   constructors (`bind_abstract`, `connect_abstract`).
//! - As in std, Nagle's algorithm stays on; request/response protocols
//!   usually want [`TcpStream::set_nodelay`]`(true)`.
//!
//! Each open socket takes one poll descriptor from the runtime's fixed
//! arena: when all `MAX_FDS` are in use, opening or accepting fails with
//! [`Error::ArenaFull`] (an accepted connection is then closed at once).
//!
//! The `embedded-io` `Read`/`Write` traits are implemented for the stream
//! types (and for `&TcpStream`, `&UnixStream` and [`crate::poll::Fd`]); with
//! the `std` feature, so are `std::io::Read`/`Write`, and
//! `From<goro::Error> for std::io::Error`.

mod addr;
mod io;
#[cfg(feature = "std")]
mod std_io;
mod tcp;
mod udp;
mod unix;
mod unix_datagram;

pub use addr::{ToSocketAddr, UnixAddr};
pub use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};
pub use unix_datagram::UnixDatagram;

use crate::netpoll::Mode;
use crate::poll::Fd;
use crate::sys::{self, net::SocketAddrAny, AsFd, OwnedFd};
use crate::Error;

/// Backlog of the listeners `bind` makes (the kernel caps it at
/// `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Which halves of a connection [`TcpStream::shutdown`] (and the Unix
/// equivalents) close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// No more reads: pending and later reads return `Ok(0)`.
    Read,
    /// No more writes: the peer reads end of file once it has read
    /// everything sent before.
    Write,
    /// Both.
    Both,
}

impl Shutdown {
    fn raw(self) -> sys::net::Shutdown {
        match self {
            Shutdown::Read => sys::net::Shutdown::Read,
            Shutdown::Write => sys::net::Shutdown::Write,
            Shutdown::Both => sys::net::Shutdown::Both,
        }
    }
}

/// Runs `setup` on a fresh socket before it is registered (bind, listen,
/// options): a failure closes it without using a poll descriptor.
fn prepare(fd: OwnedFd, setup: impl FnOnce(sys::BorrowedFd<'_>) -> Result<(), sys::Errno>) -> Result<OwnedFd, Error> {
    setup(fd.as_fd())?;
    Ok(fd)
}

/// An IP socket address from the kernel.
fn inet(addr: SocketAddrAny) -> Result<SocketAddr, Error> {
    SocketAddr::try_from(addr).map_err(Error::from)
}

/// `getsockname` as an IP address.
fn local_inet(fd: &Fd) -> Result<SocketAddr, Error> {
    inet(fd.with(sys::net::local_addr)?)
}

/// `getpeername` as an IP address.
fn peer_inet(fd: &Fd) -> Result<SocketAddr, Error> {
    match fd.with(sys::net::peer_addr)? {
        Some(a) => inet(a),
        None => Err(sys::Errno::NOTCONN.into()),
    }
}

/// Copies queued stream bytes into `buf` without consuming them (`recv`
/// with `MSG_PEEK`), parking until at least one byte is there; `Ok(0)` is
/// end of stream (or an empty `buf`). Goes through the plain
/// try-then-park loop: a later read still sees every readiness edge
/// (the short-read guard counts events, not reads).
fn peek_stream(fd: &Fd, buf: &mut [u8]) -> Result<usize, Error> {
    if buf.is_empty() {
        return Ok(0);
    }
    fd.io(Mode::Read, |s| sys::net::recv(s, buf, true))
}

/// One `send` on a connected socket (parks until some room).
fn send(fd: &Fd, buf: &[u8]) -> Result<usize, Error> {
    if buf.is_empty() {
        return Ok(0);
    }
    fd.io(Mode::Write, |s| sys::net::send(s, buf))
}

/// Sends all of `buf`, holding the write side throughout so concurrent
/// writers never interleave. On an error, what was sent stays sent.
fn send_all(fd: &Fd, buf: &[u8]) -> Result<(), Error> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut done = 0;
    fd.io(Mode::Write, |s| {
        // EAGAIN leaves this closure; the loop parks and calls it again,
        // carrying on from `done`.
        while done < buf.len() {
            done += sys::net::send(s, &buf[done..])?;
        }
        Ok(())
    })
}

/// One vectored `send` (parks until some room).
fn send_vectored<B: core::ops::Deref<Target = [u8]>>(fd: &Fd, bufs: &[B]) -> Result<usize, Error> {
    if bufs.iter().all(|b| b.is_empty()) {
        return Ok(0);
    }
    fd.io(Mode::Write, |s| sys::net::send_vectored(s, bufs))
}

/// `shutdown(2)`. The kernel signals readiness, so a read parked on this
/// socket returns 0 after `Read`, and the peer's reads do after `Write`.
fn shutdown(fd: &Fd, how: Shutdown) -> Result<(), Error> {
    fd.with(|s| sys::net::shutdown(s, how.raw()))
}

/// `close` and `as_raw_fd`, shared by every socket type (listeners too).
macro_rules! fd_common {
    ($ty:ident) => {
        impl $ty {
            /// Closes the socket now: goroutines parked on it wake with
            /// `Error::Closed`, and so do later calls; the fd is released
            /// when the last of them has left. Closing twice is
            /// `Err(Closed)`. Dropping the socket closes it as well.
            pub fn close(&self) -> Result<(), crate::Error> {
                self.fd.close()
            }

            /// The fd number (valid until the socket is closed).
            pub fn as_raw_fd(&self) -> i32 {
                self.fd.as_raw_fd()
            }
        }
    };
}
use fd_common;

/// Methods every goro socket has: timeouts, deadlines, close, raw fd.
macro_rules! fd_methods {
    ($ty:ident) => {
        $crate::net::fd_common!($ty);
        impl $ty {
            /// Per-operation read timeout, as `std`'s: each read (or
            /// receive) fails with `Error::TimedOut` if it waits longer than
            /// `d`, or earlier if the read deadline passes first (a timeout
            /// never extends a deadline). `None` clears it;
            /// `Some(Duration::ZERO)` is rejected. A read already waiting
            /// keeps the timeout it started with, whatever the timeout or
            /// deadline is changed to meanwhile.
            pub fn set_read_timeout(&self, d: Option<core::time::Duration>) -> Result<(), crate::Error> {
                self.fd.set_read_timeout(d)
            }

            /// Per-operation write timeout (see `set_read_timeout`).
            pub fn set_write_timeout(&self, d: Option<core::time::Duration>) -> Result<(), crate::Error> {
                self.fd.set_write_timeout(d)
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> Result<Option<core::time::Duration>, crate::Error> {
                Ok(self.fd.read_timeout())
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> Result<Option<core::time::Duration>, crate::Error> {
                Ok(self.fd.write_timeout())
            }

            /// Absolute deadline for reads, as Go's `SetReadDeadline`: once
            /// it passes, parked and later reads fail with
            /// `Error::TimedOut` until it is changed. `None` clears it.
            pub fn set_read_deadline(&self, at: Option<crate::time::Instant>) -> Result<(), crate::Error> {
                self.fd.set_read_deadline(at)
            }

            /// Absolute deadline for writes (see `set_read_deadline`).
            pub fn set_write_deadline(&self, at: Option<crate::time::Instant>) -> Result<(), crate::Error> {
                self.fd.set_write_deadline(at)
            }
        }
    };
}
use fd_methods;
