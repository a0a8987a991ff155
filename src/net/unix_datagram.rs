//! Unix-domain datagrams: [`UnixDatagram`].

use super::{fd_methods, prepare, Shutdown, UnixAddr};
use crate::netpoll::Mode;
use crate::poll::Fd;
use crate::sys::{self, net::Kind};
use crate::Error;
use core::fmt;

/// A Unix-domain datagram socket. Datagrams are reliable and ordered
/// between two sockets; a send to a socket whose queue is full parks until
/// there is room.
pub struct UnixDatagram {
    fd: Fd,
}

fd_methods!(UnixDatagram);

impl UnixDatagram {
    /// A socket bound to the filesystem path `path`.
    pub fn bind(path: impl AsRef<[u8]>) -> Result<UnixDatagram, Error> {
        UnixDatagram::bind_addr(&UnixAddr::from_pathname(path)?)
    }

    /// A socket bound to the Linux abstract name `name`.
    pub fn bind_abstract(name: impl AsRef<[u8]>) -> Result<UnixDatagram, Error> {
        UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(name)?)
    }

    /// A socket bound to `addr`.
    pub fn bind_addr(addr: &UnixAddr) -> Result<UnixDatagram, Error> {
        let fd = prepare(sys::net::socket_unix(Kind::Datagram)?, |s| sys::net::bind(s, &addr.0))?;
        UnixDatagram::register(fd)
    }

    /// An unbound socket: it can send, but has no address a reply could be
    /// sent to (its datagrams arrive from an unnamed sender).
    pub fn unbound() -> Result<UnixDatagram, Error> {
        UnixDatagram::register(sys::net::socket_unix(Kind::Datagram)?)
    }

    /// A connected pair of unnamed datagram sockets (`socketpair`).
    pub fn pair() -> Result<(UnixDatagram, UnixDatagram), Error> {
        let (a, b) = sys::net::socketpair(Kind::Datagram)?;
        let a = UnixDatagram::register(a)?;
        Ok((a, UnixDatagram::register(b)?))
    }

    fn register(fd: sys::OwnedFd) -> Result<UnixDatagram, Error> {
        // Datagrams: no short-read shortcut.
        Ok(UnixDatagram { fd: Fd::register(fd, false)? })
    }

    /// Sets the default destination (and only accepted source) to the
    /// socket at path `path`.
    pub fn connect(&self, path: impl AsRef<[u8]>) -> Result<(), Error> {
        self.connect_addr(&UnixAddr::from_pathname(path)?)
    }

    /// As [`UnixDatagram::connect`], to an abstract name.
    pub fn connect_abstract(&self, name: impl AsRef<[u8]>) -> Result<(), Error> {
        self.connect_addr(&UnixAddr::from_abstract_name(name)?)
    }

    /// As [`UnixDatagram::connect`], to `addr`.
    pub fn connect_addr(&self, addr: &UnixAddr) -> Result<(), Error> {
        self.fd.with(|s| sys::net::connect(s, &addr.0))
    }

    /// Sends one datagram to the socket at path `path`.
    pub fn send_to(&self, buf: &[u8], path: impl AsRef<[u8]>) -> Result<usize, Error> {
        self.send_to_addr(buf, &UnixAddr::from_pathname(path)?)
    }

    /// Sends one datagram to the socket with abstract name `name`.
    pub fn send_to_abstract(&self, buf: &[u8], name: impl AsRef<[u8]>) -> Result<usize, Error> {
        self.send_to_addr(buf, &UnixAddr::from_abstract_name(name)?)
    }

    /// Sends one datagram to `addr`.
    pub fn send_to_addr(&self, buf: &[u8], addr: &UnixAddr) -> Result<usize, Error> {
        self.fd.io(Mode::Write, |s| sys::net::send_to(s, buf, &addr.0))
    }

    /// Receives one datagram and its sender's address (unnamed if the
    /// sender is not bound).
    /// A datagram longer than `buf` is truncated: the rest of it is
    /// discarded (as with `std`'s sockets); size `buf` for the largest
    /// datagram expected.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, UnixAddr), Error> {
        let (n, addr) = self.fd.io(Mode::Read, |s| sys::net::recv_from(s, buf, false))?;
        Ok((n, UnixAddr::from_kernel(addr)?))
    }

    /// Sends one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Write, |s| sys::net::send(s, buf))
    }

    /// Receives one datagram (truncated to `buf`, as
    /// [`UnixDatagram::recv_from`]).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Read, |s| sys::net::recv(s, buf, false))
    }

    /// As [`UnixDatagram::recv`], but leaves the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Read, |s| sys::net::recv(s, buf, true))
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        super::shutdown(&self.fd, how)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<UnixAddr, Error> {
        UnixAddr::from_kernel(Some(self.fd.with(sys::net::local_addr)?))
    }

    /// The connected peer's address (`Os(ENOTCONN)` if not connected).
    pub fn peer_addr(&self) -> Result<UnixAddr, Error> {
        UnixAddr::from_kernel(self.fd.with(sys::net::peer_addr)?)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
