//! Sockets and plain fd I/O: thin wrappers over rustix that count calls.
//! Every socket goro makes is non-blocking and close-on-exec.

use super::{count, Sys};
use core::net::SocketAddr;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self as rn, sockopt, AddressFamily, SocketFlags, SocketType};

pub(crate) use rn::{Shutdown, SocketAddrAny, SocketAddrUnix};
use rustix::io::{IoSlice, IoSliceMut};

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

/// Most buffers one vectored call passes to the kernel (the rest wait for
/// the next call, as a short read or write).
pub(crate) const MAX_IOV: usize = 64;

/// `readv` into up to [`MAX_IOV`] buffers of any mutable byte-slice type
/// (`&mut [u8]`, std's `IoSliceMut`); the iovec array is built on the stack.
pub(crate) fn readv<B: core::ops::DerefMut<Target = [u8]>>(fd: BorrowedFd<'_>, bufs: &mut [B]) -> Result<usize, Errno> {
    count(Sys::Read);
    let mut iov: heapless::Vec<IoSliceMut<'_>, MAX_IOV> = heapless::Vec::new();
    for b in bufs.iter_mut().filter(|b| !b.is_empty()).take(MAX_IOV) {
        let _ = iov.push(IoSliceMut::new(b));
    }
    rustix::io::readv(fd, &mut iov)
}

/// `sendmsg` of up to [`MAX_IOV`] buffers on a connected socket, without
/// SIGPIPE (`writev` would raise it on a reset connection).
pub(crate) fn send_vectored<B: core::ops::Deref<Target = [u8]>>(
    fd: BorrowedFd<'_>,
    bufs: &[B],
) -> Result<usize, Errno> {
    count(Sys::Write);
    let mut iov: heapless::Vec<IoSlice<'_>, MAX_IOV> = heapless::Vec::new();
    for b in bufs.iter().filter(|b| !b.is_empty()).take(MAX_IOV) {
        let _ = iov.push(IoSlice::new(b));
    }
    rn::sendmsg(fd, &iov, &mut rn::SendAncillaryBuffer::default(), rn::SendFlags::NOSIGNAL)
}

/// `recvfrom`: one datagram (left queued with `peek`) and its sender.
pub(crate) fn recv_from(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    peek: bool,
) -> Result<(usize, Option<SocketAddrAny>), Errno> {
    count(Sys::Read);
    let flags = if peek { rn::RecvFlags::PEEK } else { rn::RecvFlags::empty() };
    let (n, _, addr) = rn::recvfrom(fd, buf, flags)?;
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

/// `getsockopt(SO_BROADCAST)`.
pub(crate) fn broadcast(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    count(Sys::Other);
    sockopt::socket_broadcast(fd)
}

/// `setsockopt(SO_LINGER)`: `Some(ZERO)` makes `close` reset the connection.
pub(crate) fn set_linger(fd: BorrowedFd<'_>, linger: Option<core::time::Duration>) -> Result<(), Errno> {
    count(Sys::Other);
    sockopt::set_socket_linger(fd, linger)
}

/// `getsockopt(SO_LINGER)`.
pub(crate) fn linger(fd: BorrowedFd<'_>) -> Result<Option<core::time::Duration>, Errno> {
    count(Sys::Other);
    sockopt::socket_linger(fd)
}

/// `setsockopt(IP_TTL)`.
pub(crate) fn set_ttl(fd: BorrowedFd<'_>, ttl: u32) -> Result<(), Errno> {
    count(Sys::Other);
    sockopt::set_ip_ttl(fd, ttl)
}

/// `getsockopt(IP_TTL)`.
pub(crate) fn ttl(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    count(Sys::Other);
    sockopt::ip_ttl(fd)
}

/// `offsetof(struct sockaddr_un, sun_path)`: an address this long names no
/// path (an unnamed socket).
const SUN_PATH_OFFSET: usize = 2;

/// `sizeof(struct sockaddr_un)`: 108 path bytes after the family.
const SOCKADDR_UN_LEN: usize = SUN_PATH_OFFSET + 108;

const _: () = assert!(core::mem::size_of::<rn::addr::SocketAddrStorage>() >= SOCKADDR_UN_LEN);

/// A Unix socket address as the kernel returned it, decoded here rather
/// than by rustix: an address with no path bytes at all is *unnamed*
/// (rustix would make it the empty abstract name), and a path of the full
/// 108 bytes has no room for its NUL in `sun_path`, so the kernel reports
/// a length past the structure, which rustix's decoder indexes out of
/// bounds on (a panic any peer could trigger by binding such a path).
/// As the kernel reads a path, it ends at its first NUL or at 108 bytes.
pub(crate) fn unix_addr_from(addr: Option<SocketAddrAny>) -> Result<SocketAddrUnix, Errno> {
    let Some(a) = addr else { return Ok(SocketAddrUnix::new_unnamed()) };
    if a.address_family() != AddressFamily::UNIX {
        return Err(Errno::AFNOSUPPORT);
    }
    let len = (a.addr_len() as usize).min(SOCKADDR_UN_LEN);
    if len <= SUN_PATH_OFFSET {
        return Ok(SocketAddrUnix::new_unnamed());
    }
    // The storage is at least `SOCKADDR_UN_LEN` long (asserted above).
    // SAFETY: `SocketAddrAny` keeps its first `addr_len()` bytes initialised, and `len` is at most that and the storage.
    let raw = unsafe { core::slice::from_raw_parts(a.as_ptr().cast::<u8>(), len) };
    let path = &raw[SUN_PATH_OFFSET..];
    match path.split_first() {
        Some((0, name)) => SocketAddrUnix::new_abstract_name(name),
        _ => SocketAddrUnix::new(path.split(|&b| b == 0).next().unwrap_or(path)),
    }
}

/// A filesystem-path Unix address (`ENAMETOOLONG` past 108 bytes, `EINVAL`
/// for an interior NUL).
pub(crate) fn unix_path(path: &[u8]) -> Result<SocketAddrUnix, Errno> {
    SocketAddrUnix::new(path)
}

/// A Linux abstract Unix address (`ENAMETOOLONG` past 107 bytes).
pub(crate) fn unix_abstract(name: &[u8]) -> Result<SocketAddrUnix, Errno> {
    SocketAddrUnix::new_abstract_name(name)
}

/// Puts an fd in non-blocking mode (`fcntl(F_SETFL, O_NONBLOCK)` keeping
/// the other status flags); returns the flags it had, for
/// [`restore_status_flags`].
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<super::OFlags, Errno> {
    count(Sys::Other);
    let fl = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)?;
    Ok(fl)
}

/// Puts back the status flags [`set_nonblocking`] returned. The flags
/// belong to the open file, which other fds (a `dup`, another process's
/// copy) may share.
pub(crate) fn restore_status_flags(fd: BorrowedFd<'_>, fl: super::OFlags) {
    count(Sys::Other);
    let _ = rustix::fs::fcntl_setfl(fd, fl);
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
