//! Minimal blocking-style sockets over `goro::poll::Fd`, for the cases and
//! the echo server until `goro::net` lands (then these become its
//! `TcpListener`, `TcpStream`, `UdpSocket`, `UnixListener`, `UnixStream`).
//!
//! Every socket is non-blocking; an operation that would block parks the
//! goroutine on the fd's readiness (`Fd::wait_readable`/`wait_writable`),
//! which the netpoller reports edge-triggered: readiness that arrived
//! between the failed call and the wait is kept, so no wake-up is lost.

use core::net::SocketAddrV4;
use goro::poll::Fd;
use goro::Error;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self as rn, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

fn os(e: Errno) -> Error {
    Error::Os(e.raw_os_error())
}

fn socket(fam: AddressFamily, ty: SocketType) -> Result<OwnedFd, Error> {
    rn::socket_with(fam, ty, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None).map_err(os)
}

/// The raw fd of `fd`, borrowed for one call.
fn raw(fd: &Fd) -> BorrowedFd<'_> {
    // SAFETY: the Fd owns the descriptor and outlives the borrow; goro
    // closes it only after `Fd::close`/drop, which the caller's `&Fd`
    // prevents for the duration of the call (the tests never close an fd
    // another goroutine is using through these wrappers, except to wake it
    // through `Fd::close`, after which calls fail with EBADF or Closed).
    unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) }
}

/// Runs `op` until it does not return `EAGAIN`, parking on readability
/// (`read`) or writability in between.
fn retry<T>(fd: &Fd, read: bool, mut op: impl FnMut(BorrowedFd<'_>) -> Result<T, Errno>) -> Result<T, Error> {
    loop {
        match op(raw(fd)) {
            Ok(v) => return Ok(v),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if read => fd.wait_readable()?,
            Err(Errno::AGAIN) => fd.wait_writable()?,
            Err(e) => return Err(os(e)),
        }
    }
}

/// Connects `s` to `addr`, parking until the connection completes.
fn connect(s: OwnedFd, addr: &impl rn::addr::SocketAddrArg) -> Result<Fd, Error> {
    let r = rn::connect(&s, addr);
    let fd = Fd::new(s)?;
    match r {
        Ok(()) => return Ok(fd),
        Err(Errno::INPROGRESS | Errno::INTR | Errno::AGAIN) => {}
        Err(e) => return Err(os(e)),
    }
    loop {
        fd.wait_writable()?;
        match rn::sockopt::socket_error(raw(&fd)).map_err(os)? {
            Err(e) => return Err(os(e)),
            Ok(()) if rn::getpeername(raw(&fd)).is_ok() => return Ok(fd),
            Ok(()) => {}
        }
    }
}

/// A stream socket (TCP or Unix).
pub struct Stream(pub Fd);

impl Stream {
    /// Reads some bytes; `Ok(0)` at end of stream.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.0.read(buf)
    }

    /// Writes all of `buf`.
    pub fn write_all(&self, buf: &[u8]) -> Result<(), Error> {
        self.0.write_all(buf).map(|_| ())
    }

    /// Reads exactly `buf.len()` bytes.
    pub fn read_exact(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut got = 0;
        while got < buf.len() {
            match self.read(&mut buf[got..])? {
                0 => return Err(Error::Os(Errno::PIPE.raw_os_error())),
                n => got += n,
            }
        }
        Ok(())
    }

    /// Shuts the write side down (the peer reads end of stream).
    pub fn shutdown_write(&self) -> Result<(), Error> {
        rn::shutdown(raw(&self.0), rn::Shutdown::Write).map_err(os)
    }
}

/// A listening stream socket (TCP or Unix).
pub struct Listener(pub Fd);

impl Listener {
    /// Listens on a TCP address (port 0: any free port).
    pub fn tcp(addr: SocketAddrV4) -> Result<Listener, Error> {
        let s = socket(AddressFamily::INET, SocketType::STREAM)?;
        rn::sockopt::set_socket_reuseaddr(&s, true).map_err(os)?;
        rn::bind(&s, &addr).map_err(os)?;
        rn::listen(&s, 128).map_err(os)?;
        Ok(Listener(Fd::new(s)?))
    }

    /// Listens on a Unix address.
    pub fn unix(addr: &SocketAddrUnix) -> Result<Listener, Error> {
        let s = socket(AddressFamily::UNIX, SocketType::STREAM)?;
        rn::bind(&s, addr).map_err(os)?;
        rn::listen(&s, 128).map_err(os)?;
        Ok(Listener(Fd::new(s)?))
    }

    /// The TCP address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddrV4, Error> {
        let a = rn::getsockname(raw(&self.0)).map_err(os)?;
        SocketAddrV4::try_from(a).map_err(os)
    }

    /// Accepts a connection, parking until one arrives.
    pub fn accept(&self) -> Result<Stream, Error> {
        let s = retry(&self.0, true, |fd| rn::accept_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC))?;
        Ok(Stream(Fd::new(s)?))
    }
}

/// Connects to a TCP address.
pub fn tcp_connect(addr: SocketAddrV4) -> Result<Stream, Error> {
    connect(socket(AddressFamily::INET, SocketType::STREAM)?, &addr).map(Stream)
}

/// Connects to a Unix address.
pub fn unix_connect(addr: &SocketAddrUnix) -> Result<Stream, Error> {
    connect(socket(AddressFamily::UNIX, SocketType::STREAM)?, addr).map(Stream)
}

/// A UDP socket.
pub struct Udp(pub Fd);

impl Udp {
    /// Binds a UDP socket (port 0: any free port).
    pub fn bind(addr: SocketAddrV4) -> Result<Udp, Error> {
        let s = socket(AddressFamily::INET, SocketType::DGRAM)?;
        rn::bind(&s, &addr).map_err(os)?;
        Ok(Udp(Fd::new(s)?))
    }

    /// Its address.
    pub fn local_addr(&self) -> Result<SocketAddrV4, Error> {
        let a = rn::getsockname(raw(&self.0)).map_err(os)?;
        SocketAddrV4::try_from(a).map_err(os)
    }

    /// Sends one datagram.
    pub fn send_to(&self, buf: &[u8], to: SocketAddrV4) -> Result<usize, Error> {
        retry(&self.0, false, |fd| rn::sendto(fd, buf, rn::SendFlags::empty(), &to))
    }

    /// Receives one datagram, parking until one arrives.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddrV4), Error> {
        let (n, _, from) = retry(&self.0, true, |fd| rn::recvfrom(fd, &mut *buf, rn::RecvFlags::empty()))?;
        let from = from.ok_or(Error::Os(Errno::DESTADDRREQ.raw_os_error()))?;
        Ok((n, SocketAddrV4::try_from(from).map_err(os)?))
    }
}
