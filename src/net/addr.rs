//! Socket addresses: [`ToSocketAddr`] for IP sockets, [`UnixAddr`] for
//! Unix-domain ones.

use crate::sys::{self, net::SocketAddrUnix, Errno};
use crate::Error;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one IP socket address: goro's counterpart of
/// `std::net::ToSocketAddrs`, without name resolution.
///
/// Implemented for the `core::net` address types, for `(ip, port)` tuples,
/// and for strings:
///
/// - `"1.2.3.4:80"` and `"[::1]:80"` (also with a scope id, `"[fe80::1%2]:80"`);
/// - `"localhost:80"` and `("localhost", 80)`, which mean `127.0.0.1:80`.
///
/// Any other host name is `Error::InvalidInput`: goro links no libc, so it
/// has no DNS resolver (nor `/etc/hosts` lookup). Resolve names yourself
/// and pass the address.
///
/// ```
/// use goro::net::ToSocketAddr;
/// assert_eq!("localhost:8080".to_socket_addr().unwrap().to_string(), "127.0.0.1:8080");
/// assert!("example.com:80".to_socket_addr().is_err());
/// ```
pub trait ToSocketAddr {
    /// The address, or why this value does not name one.
    fn to_socket_addr(&self) -> Result<SocketAddr, Error>;
}

impl ToSocketAddr for SocketAddr {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(*self)
    }
}

impl ToSocketAddr for SocketAddrV4 {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::V4(*self))
    }
}

impl ToSocketAddr for SocketAddrV6 {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::V6(*self))
    }
}

impl ToSocketAddr for (IpAddr, u16) {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::new(self.0, self.1))
    }
}

impl ToSocketAddr for (Ipv4Addr, u16) {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ToSocketAddr for (Ipv6Addr, u16) {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::new(IpAddr::V6(self.0), self.1))
    }
}

impl ToSocketAddr for (&str, u16) {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        Ok(SocketAddr::new(parse_host(self.0)?, self.1))
    }
}

impl ToSocketAddr for str {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(a);
        }
        let Some((host, port)) = self.rsplit_once(':') else {
            return Err(Error::InvalidInput("socket address needs a port: IP:PORT or [IPv6]:PORT"));
        };
        if host.contains(':') && !host.starts_with('[') {
            return Err(Error::InvalidInput("IPv6 socket addresses are written [IPv6]:PORT"));
        }
        let port = port.parse::<u16>().map_err(|_| Error::InvalidInput("invalid port number in socket address"))?;
        Ok(SocketAddr::new(parse_host(host)?, port))
    }
}

impl<T: ToSocketAddr + ?Sized> ToSocketAddr for &T {
    fn to_socket_addr(&self) -> Result<SocketAddr, Error> {
        (**self).to_socket_addr()
    }
}

/// A numeric IP address or `localhost`.
fn parse_host(host: &str) -> Result<IpAddr, Error> {
    if host.is_empty() {
        return Err(Error::InvalidInput("missing host: use a numeric IP or localhost, as in 127.0.0.1:PORT"));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().map_err(|_| {
        Error::InvalidInput("host names are not resolved (goro has no DNS without libc): use a numeric IP or localhost")
    })
}

/// The address of a Unix-domain socket: a filesystem path, a Linux
/// abstract name, or unnamed (an unbound socket, or one end of a pair).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnixAddr(pub(crate) SocketAddrUnix);

impl UnixAddr {
    /// A filesystem path address (at most 108 bytes, no NUL byte).
    pub fn from_pathname(path: impl AsRef<[u8]>) -> Result<UnixAddr, Error> {
        let path = path.as_ref();
        if path.is_empty() {
            return Err(Error::InvalidInput("empty Unix socket path"));
        }
        if path.contains(&0) {
            return Err(Error::InvalidInput("Unix socket path contains a NUL byte"));
        }
        match sys::net::unix_path(path) {
            Ok(a) => Ok(UnixAddr(a)),
            Err(Errno::NAMETOOLONG) => Err(Error::InvalidInput("Unix socket path longer than 108 bytes")),
            Err(e) => Err(e.into()),
        }
    }

    /// A Linux abstract address (at most 107 bytes; any bytes, no file).
    pub fn from_abstract_name(name: impl AsRef<[u8]>) -> Result<UnixAddr, Error> {
        match sys::net::unix_abstract(name.as_ref()) {
            Ok(a) => Ok(UnixAddr(a)),
            Err(Errno::NAMETOOLONG) => Err(Error::InvalidInput("abstract Unix socket name longer than 107 bytes")),
            Err(e) => Err(e.into()),
        }
    }

    /// The path, for a filesystem address.
    pub fn as_pathname(&self) -> Option<&[u8]> {
        self.0.path_bytes()
    }

    /// The name (without the leading NUL), for an abstract address.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        self.0.abstract_name()
    }

    /// Whether the address is unnamed.
    pub fn is_unnamed(&self) -> bool {
        self.0.is_unnamed()
    }

    pub(crate) fn from_kernel(addr: Option<sys::net::SocketAddrAny>) -> Result<UnixAddr, Error> {
        Ok(UnixAddr(sys::net::unix_addr_from(addr)?))
    }
}

impl fmt::Debug for UnixAddr {
    /// As std: `"/tmp/sock" (pathname)`, `"name" (abstract)`, `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.as_pathname() {
            write!(f, "\"{}\" (pathname)", p.escape_ascii())
        } else if let Some(n) = self.as_abstract_name() {
            write!(f, "\"{}\" (abstract)", n.escape_ascii())
        } else {
            f.write_str("(unnamed)")
        }
    }
}
