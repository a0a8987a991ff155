//! Sockets and plain fd I/O: thin wrappers over rustix that count calls.
//! Every socket goro makes is non-blocking and close-on-exec.

use super::{count, Sys};
use core::net::SocketAddr;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self as rn, sockopt, AddressFamily, SocketFlags, SocketType};

pub(crate) use rn::{Shutdown, SocketAddrAny, SocketAddrUnix};
pub(crate) use rustix::io::{IoSlice, IoSliceMut};

/// Socket kinds goro creates.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Stream,
    Datagram,
}

fn kind(k: Kind) -> SocketType {
    match k {
        Kind::Stream => SocketType::STREAM,
        Kind::Datagram => SocketType::DGRAM,
    }
}

/// `socket(family, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)` for an IP address.
pub(crate) fn socket_for(addr: &SocketAddr, k: Kind) -> Result<OwnedFd, Errno> {
    let fam = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    socket(fam, k)
}

/// A Unix-domain socket.
pub(crate) fn socket_unix(k: Kind) -> Result<OwnedFd, Errno> {
    socket(AddressFamily::UNIX, k)
}

fn socket(fam: AddressFamily, k: Kind) -> Result<OwnedFd, Errno> {
    count(Sys::Other);
    rn::socket_with(fam, kind(k), SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
}

/// A connected pair of Unix sockets.
pub(crate) fn socketpair(k: Kind) -> Result<(OwnedFd, OwnedFd), Errno> {
    count(Sys::Other);
    rn::socketpair(AddressFamily::UNIX, kind(k), SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
}

/// `bind`.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &impl rn::addr::SocketAddrArg) -> Result<(), Errno> {
    count(Sys::Other);
    rn::bind(fd, addr)
}

/// `listen`.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> Result<(), Errno> {
    count(Sys::Other);
    rn::listen(fd, backlog)
}

/// `connect` (non-blocking: `EINPROGRESS` means "wait for writability").
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &impl rn::addr::SocketAddrArg) -> Result<(), Errno> {
    count(Sys::Connect);
    rn::connect(fd, addr)
}

/// `accept4(fd, NONBLOCK | CLOEXEC)` with the peer's address.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> Result<(OwnedFd, Option<SocketAddrAny>), Errno> {
    count(Sys::Accept);
    rn::acceptfrom_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
}

/// `getsockopt(SO_ERROR)`: the result of a non-blocking connect.
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> Result<Result<(), Errno>, Errno> {
    count(Sys::Other);
    sockopt::socket_error(fd)
}

/// `read`.
#[inline]
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    count(Sys::Read);
    rustix::io::read(fd, buf)
}

/// `write`.
#[inline]
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    count(Sys::Write);
    rustix::io::write(fd, buf)
}

/// `readv`.
pub(crate) fn readv(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> Result<usize, Errno> {
    count(Sys::Read);
    rustix::io::readv(fd, bufs)
}

/// `writev`.
pub(crate) fn writev(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> Result<usize, Errno> {
    count(Sys::Write);
    rustix::io::writev(fd, bufs)
}

/// `recvfrom`: one datagram and its sender.
pub(crate) fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Option<SocketAddrAny>), Errno> {
    count(Sys::Read);
    let (n, _, addr) = rn::recvfrom(fd, buf, rn::RecvFlags::empty())?;
    Ok((n, addr))
}

/// `recv` on a connected socket.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], peek: bool) -> Result<usize, Errno> {
    count(Sys::Read);
    let flags = if peek { rn::RecvFlags::PEEK } else { rn::RecvFlags::empty() };
    rn::recv(fd, buf, flags).map(|(n, _)| n)
}

/// `sendto`.
pub(crate) fn send_to(fd: BorrowedFd<'_>, buf: &[u8], addr: &impl rn::addr::SocketAddrArg) -> Result<usize, Errno> {
    count(Sys::Write);
    rn::sendto(fd, buf, rn::SendFlags::NOSIGNAL, addr)
}

/// `send` on a connected socket, without SIGPIPE.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    count(Sys::Write);
    rn::send(fd, buf, rn::SendFlags::NOSIGNAL)
}

/// `shutdown`.
pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: Shutdown) -> Result<(), Errno> {
    count(Sys::Other);
    rn::shutdown(fd, how)
}

/// `getsockname`.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> Result<SocketAddrAny, Errno> {
    count(Sys::Other);
    rn::getsockname(fd)
}

/// `getpeername`.
pub(crate) fn peer_addr(fd: BorrowedFd<'_>) -> Result<Option<SocketAddrAny>, Errno> {
    count(Sys::Other);
    rn::getpeername(fd)
}

/// `setsockopt(TCP_NODELAY)`.
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    count(Sys::Other);
    sockopt::set_tcp_nodelay(fd, on)
}

/// `getsockopt(TCP_NODELAY)`.
pub(crate) fn nodelay(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    count(Sys::Other);
    sockopt::tcp_nodelay(fd)
}

/// `setsockopt(SO_REUSEADDR)`.
pub(crate) fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    count(Sys::Other);
    sockopt::set_socket_reuseaddr(fd, on)
}

/// `setsockopt(SO_BROADCAST)`.
pub(crate) fn set_broadcast(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    count(Sys::Other);
    sockopt::set_socket_broadcast(fd, on)
}

/// Puts an fd in non-blocking mode (`fcntl(F_SETFL, O_NONBLOCK)` keeping
/// the other status flags).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    count(Sys::Other);
    let fl = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)
}

/// Current and maximum `RLIMIT_NOFILE`.
pub(crate) fn nofile_limit() -> (Option<u64>, Option<u64>) {
    let r = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    (r.current, r.maximum)
}

/// Sets `RLIMIT_NOFILE`.
pub(crate) fn set_nofile_limit(cur: Option<u64>, max: Option<u64>) -> Result<(), Errno> {
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: cur, maximum: max },
    )
}

/// `pipe2(O_NONBLOCK | O_CLOEXEC)`: (read end, write end).
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    count(Sys::Other);
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK | rustix::pipe::PipeFlags::CLOEXEC)
}
