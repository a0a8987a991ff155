//! Socket addresses for `/echo`, parsed and printed with less code than the
//! general routes.
//!
//! `TcpListener::bind` with a `&str` goes through goro's `ToSocketAddr`:
//! core's `SocketAddr` parser (IPv4 and IPv6), then a `HOST:PORT` split and
//! a second `IpAddr` parse of the host; core's `SocketAddr` `Display` prints
//! IPv6 through a padding-aware buffer. Instead of these, [`parse`] and
//! [`Addr`] keep `/echo` about 7.5 KiB smaller, which it needs to stay under
//! its 64 KiB budget on aarch64. The `addresses` case checks them against
//! core's parser and `Display`.

use core::fmt::{self, Write};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Parses what `examples/echo.rs` accepts for `--addr`: what core's
/// `SocketAddr::from_str` does (`IPv4:PORT`, `[IPv6]:PORT`,
/// `[IPv6%SCOPE]:PORT`), and `localhost:PORT` (any case), which is
/// `127.0.0.1`, as in goro's `ToSocketAddr`. Unlike `ToSocketAddr` it does
/// not take an IPv4 address in brackets or a `+` before the port.
pub fn parse(s: &[u8]) -> Option<SocketAddr> {
    let colon = s.iter().rposition(|&b| b == b':')?;
    let (host, port) = (&s[..colon], &s[colon + 1..]);
    let port = num(port, 10, usize::MAX, true, 0xffff)? as u16;
    if host.eq_ignore_ascii_case(b"localhost") {
        return Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
    }
    if let [b'[', inner @ .., b']'] = host {
        let (ip, scope) = match inner.iter().position(|&b| b == b'%') {
            Some(i) => (&inner[..i], num(&inner[i + 1..], 10, usize::MAX, true, u32::MAX)?),
            None => (inner, 0),
        };
        return Some(SocketAddrV6::new(Ipv6Addr::from(ipv6(ip)?), port, 0, scope).into());
    }
    Some(SocketAddr::new(Ipv4Addr::from(ipv4(host)?).into(), port))
}

/// A number in `radix` of 1 to `max_digits` digits, at most `max`; a
/// leading zero only alone unless `zero_prefix` (core's `read_number`).
fn num(s: &[u8], radix: u32, max_digits: usize, zero_prefix: bool, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || (!zero_prefix && s.len() > 1 && s[0] == b'0') {
        return None;
    }
    s.iter().try_fold(0u32, |v, &b| {
        let v = v.checked_mul(radix)?.checked_add(char::from(b).to_digit(radix)?)?;
        (v <= max).then_some(v)
    })
}

/// Dotted-decimal IPv4: four numbers 0 to 255 without leading zeros.
fn ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for o in &mut out {
        *o = num(parts.next()?, 10, 3, false, 255)? as u8;
    }
    parts.next().is_none().then_some(out)
}

/// IPv6 text (RFC 4291 2.2): eight groups of 1 to 4 hex digits, one `::`
/// standing for one or more zero groups, the last two groups optionally as
/// dotted IPv4.
fn ipv6(s: &[u8]) -> Option<[u16; 8]> {
    let gap = s.windows(2).position(|w| w == b"::");
    let mut out = [0u16; 8];
    let head = match gap {
        Some(i) => groups(&s[..i], &mut out, false)?,
        None => return (groups(s, &mut out, true)? == 8).then_some(out),
    };
    let mut tail = [0u16; 8];
    let n = groups(&s[gap? + 2..], &mut tail, true)?;
    if head + n > 7 {
        return None;
    }
    out[8 - n..].copy_from_slice(&tail[..n]);
    Some(out)
}

/// Fills `out` from `:`-separated groups (the last may be dotted IPv4, as
/// two groups, if `v4_last`); returns how many. An empty `s` is no groups;
/// an empty group (a stray or second `::`) is an error.
fn groups(s: &[u8], out: &mut [u16; 8], v4_last: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = s.split(|&b| b == b':').peekable();
    while let Some(p) = parts.next() {
        if let Some([a, b, c, d]) = (v4_last && parts.peek().is_none()).then(|| ipv4(p)).flatten() {
            *out.get_mut(n)? = u16::from_be_bytes([a, b]);
            *out.get_mut(n + 1)? = u16::from_be_bytes([c, d]);
            n += 2;
        } else {
            *out.get_mut(n)? = num(p, 16, 4, true, 0xffff)? as u16;
            n += 1;
        }
    }
    Some(n)
}

/// `Display`s a socket address exactly as core's `SocketAddr` `Display`
/// does without width or precision: `IP:PORT`, `[IPv6]:PORT` or
/// `[IPv6%SCOPE]:PORT`, IPv6 as RFC 5952 (lowercase hex, the first longest
/// run of two or more zero groups as `::`, an IPv4-mapped address as
/// `::ffff:a.b.c.d`).
pub struct Addr(pub SocketAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = match self.0 {
            SocketAddr::V4(a) => {
                dotted(f, a.ip().octets())?;
                a.port()
            }
            SocketAddr::V6(a) => {
                f.write_char('[')?;
                let g = a.ip().segments();
                if let Some(v4) = a.ip().to_ipv4_mapped() {
                    f.write_str("::ffff:")?;
                    dotted(f, v4.octets())?;
                } else {
                    // The first longest run of zero groups.
                    let (mut start, mut len, mut run) = (0, 0, 0);
                    for (i, &x) in g.iter().enumerate() {
                        run = if x == 0 { run + 1 } else { 0 };
                        if run > len {
                            (start, len) = (i + 1 - run, run);
                        }
                    }
                    if len > 1 {
                        hex_groups(f, &g[..start])?;
                        f.write_str("::")?;
                        hex_groups(f, &g[start + len..])?;
                    } else {
                        hex_groups(f, &g)?;
                    }
                }
                if a.scope_id() != 0 {
                    f.write_char('%')?;
                    digits(f, a.scope_id(), 10)?;
                }
                f.write_char(']')?;
                a.port()
            }
        };
        f.write_char(':')?;
        digits(f, u32::from(port), 10)
    }
}

fn dotted(f: &mut fmt::Formatter<'_>, octets: [u8; 4]) -> fmt::Result {
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            f.write_char('.')?;
        }
        digits(f, u32::from(o), 10)?;
    }
    Ok(())
}

fn hex_groups(f: &mut fmt::Formatter<'_>, g: &[u16]) -> fmt::Result {
    for (i, &x) in g.iter().enumerate() {
        if i > 0 {
            f.write_char(':')?;
        }
        digits(f, u32::from(x), 16)?;
    }
    Ok(())
}

/// `v` in `radix` (lowercase), without padding.
fn digits(f: &mut fmt::Formatter<'_>, mut v: u32, radix: u32) -> fmt::Result {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    buf[i..].iter().try_for_each(|&b| f.write_char(char::from(b)))
}

/// `Display`s bytes (a program argument) as text: printable ASCII as it is,
/// any other byte as `?` (no UTF-8 decoding, which costs code).
pub struct Text<'a>(pub &'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|&b| f.write_char(if b == b' ' || b.is_ascii_graphic() { char::from(b) } else { '?' }))
    }
}
