//! Bringing up the loopback interface: at boot `lo` exists but is down, and
//! nothing but `/init` is there to raise it.

use linux_raw_sys::ioctl::{SIOCGIFFLAGS, SIOCSIFFLAGS};
use linux_raw_sys::net::{ifreq, net_device_flags::IFF_UP};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Updater};
use rustix::net::{socket, AddressFamily, SocketType};

/// Sets `IFF_UP` on `lo` (`SIOCGIFFLAGS`, then `SIOCSIFFLAGS`, on an
/// `AF_INET` datagram socket). Returns whether it was down before.
pub fn up() -> Result<bool, Errno> {
    let sock = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    // SAFETY: ifreq is plain C data (a union of integers, arrays and
    // sockaddrs); all-zero bytes are a valid value of it.
    let mut req: ifreq = unsafe { core::mem::zeroed() };
    // SAFETY: writing the union's only name field; "lo" plus NUL fits in 16.
    unsafe { req.ifr_ifrn.ifrn_name[..2].copy_from_slice(&[b'l' as _, b'o' as _]) };
    // SAFETY: SIOCGIFFLAGS reads the name and writes ifru_flags of the
    // ifreq we pass by exclusive reference; nothing else is touched.
    unsafe { ioctl(&sock, Updater::<{ SIOCGIFFLAGS }, ifreq>::new(&mut req)) }?;
    // SAFETY: SIOCGIFFLAGS filled ifru_flags, so reading it is defined.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & IFF_UP as i16 != 0 {
        return Ok(false);
    }
    req.ifr_ifru.ifru_flags = flags | IFF_UP as i16;
    // SAFETY: SIOCSIFFLAGS reads the name and ifru_flags from our ifreq.
    unsafe { ioctl(&sock, Updater::<{ SIOCSIFFLAGS }, ifreq>::new(&mut req)) }?;
    Ok(true)
}
