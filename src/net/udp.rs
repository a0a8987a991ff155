//! UDP: [`UdpSocket`].

use super::{fd_methods, inet, local_inet, peer_inet, prepare, ToSocketAddr};
use crate::netpoll::Mode;
use crate::poll::Fd;
use crate::sys::{self, net::Kind};
use crate::Error;
use core::fmt;
use core::net::SocketAddr;

/// A UDP socket.
///
/// Each receive returns one datagram; a datagram longer than the buffer is
/// truncated (the rest is discarded). Sends never block for long: the
/// kernel drops what it cannot queue, as UDP does.
///
/// ```no_run
/// # goro::run(|| {
/// use goro::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// # }).unwrap();
/// ```
pub struct UdpSocket {
    fd: Fd,
}

fd_methods!(UdpSocket);

impl UdpSocket {
    /// A socket bound to `addr` (port 0 picks a free port).
    pub fn bind(addr: impl ToSocketAddr) -> Result<UdpSocket, Error> {
        let addr = addr.to_socket_addr()?;
        let fd = prepare(sys::net::socket_for(&addr, Kind::Datagram)?, |s| sys::net::bind(s, &addr))?;
        // Datagrams: a short read says nothing about what is queued, so no
        // short-read shortcut (`short_drains = false`).
        Ok(UdpSocket { fd: Fd::register(fd, false)? })
    }

    /// Sends one datagram to `addr`; returns the bytes sent.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddr) -> Result<usize, Error> {
        let addr = addr.to_socket_addr()?;
        self.fd.io(Mode::Write, |s| sys::net::send_to(s, buf, &addr))
    }

    /// Receives one datagram, parking until one arrives; returns its length
    /// (at most `buf.len()`) and sender.
    /// A datagram longer than `buf` is truncated: the rest of it is
    /// discarded (as with `std`'s sockets); size `buf` for the largest
    /// datagram expected.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Error> {
        self.recv_from_inner(buf, false)
    }

    /// As [`UdpSocket::recv_from`], but leaves the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Error> {
        self.recv_from_inner(buf, true)
    }

    fn recv_from_inner(&self, buf: &mut [u8], peek: bool) -> Result<(usize, SocketAddr), Error> {
        let (n, addr) = self.fd.io(Mode::Read, |s| sys::net::recv_from(s, buf, peek))?;
        match addr {
            Some(a) => Ok((n, inet(a)?)),
            None => Err(Error::Os(sys::Errno::AFNOSUPPORT.raw_os_error())),
        }
    }

    /// Sets the default destination for [`UdpSocket::send`] and the only
    /// source [`UdpSocket::recv`] accepts datagrams from. Does not wait.
    pub fn connect(&self, addr: impl ToSocketAddr) -> Result<(), Error> {
        let addr = addr.to_socket_addr()?;
        self.fd.with(|s| sys::net::connect(s, &addr))
    }

    /// Sends one datagram to the connected address. An ICMP error from an
    /// earlier send may surface here (`Os(ECONNREFUSED)`).
    pub fn send(&self, buf: &[u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Write, |s| sys::net::send(s, buf))
    }

    /// Receives one datagram from the connected address (truncated to
    /// `buf`, as [`UdpSocket::recv_from`]).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Read, |s| sys::net::recv(s, buf, false))
    }

    /// As [`UdpSocket::recv`], but leaves the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.fd.io(Mode::Read, |s| sys::net::recv(s, buf, true))
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        local_inet(&self.fd)
    }

    /// The connected address (`Os(ENOTCONN)` if not connected).
    pub fn peer_addr(&self) -> Result<SocketAddr, Error> {
        peer_inet(&self.fd)
    }

    /// Sets `SO_BROADCAST` (allows sending to broadcast addresses).
    pub fn set_broadcast(&self, on: bool) -> Result<(), Error> {
        self.fd.with(|s| sys::net::set_broadcast(s, on))
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> Result<bool, Error> {
        self.fd.with(sys::net::broadcast)
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

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("fd", &self.fd.as_raw_fd()).field("local", &self.local_addr().ok()).finish()
    }
}
