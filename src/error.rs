//! goro's error type: every failure is a value.

use core::fmt;

/// Everything that can go wrong in a goro call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed with this `errno`.
    Os(i32),
    /// The object was closed (by this or another goroutine) while in use.
    Closed,
    /// A deadline or timeout expired.
    TimedOut,
    /// A fixed-capacity arena has no free slot. `what` names the arena and the
    /// setting that raises `capacity`.
    ArenaFull {
        /// Which arena, and how to raise its capacity.
        what: &'static str,
        /// Its capacity.
        capacity: usize,
    },
    /// A closure passed to `spawn`, or its result, does not fit on a
    /// goroutine stack.
    ClosureTooLarge {
        /// Bytes the closure and its result slot need (in a debug build,
        /// with the copies of the result made as the goroutine returns).
        size: usize,
        /// Bytes allowed: half of the usable stack (three quarters for the
        /// debug build's count with copies).
        limit: usize,
    },
    /// The call needs to run on a goroutine (inside `goro::run`).
    NotInGoroutine,
    /// A configuration value is out of range; the text says which and why.
    InvalidConfig(&'static str),
    /// An argument is malformed or unsupported (for example a host name
    /// where only numeric addresses are understood); the text says which.
    InvalidInput(&'static str),
}

impl Error {
    /// The `errno` value, for [`Error::Os`].
    pub fn raw_os_error(&self) -> Option<i32> {
        match *self {
            Error::Os(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Os(e) => match errno_text(e) {
                Some(text) => write!(f, "{text} (os error {e})"),
                None => write!(f, "os error {e}"),
            },
            Error::Closed => f.write_str("use of closed goro object"),
            Error::TimedOut => f.write_str("deadline exceeded"),
            Error::ArenaFull { what, capacity } => {
                write!(f, "goro arena full: {what} (capacity {capacity})")
            }
            Error::ClosureTooLarge { size, limit } => write!(
                f,
                "closure and result of {size} bytes do not fit on a goroutine stack (limit {limit} bytes: \
                 raise Config::stack_size or box the captured data)"
            ),
            Error::NotInGoroutine => f.write_str("this call must be made from a goroutine"),
            Error::InvalidConfig(why) => write!(f, "invalid goro configuration: {why}"),
            Error::InvalidInput(why) => write!(f, "invalid input: {why}"),
        }
    }
}

impl core::error::Error for Error {}

/// What the errno values a network runtime meets mean (Linux numbers,
/// the same on x86_64 and aarch64; the texts follow glibc's `strerror`,
/// which goro cannot call).
fn errno_text(e: i32) -> Option<&'static str> {
    Some(match e {
        1 => "operation not permitted",
        2 => "no such file or directory",
        4 => "interrupted system call",
        5 => "input/output error",
        9 => "bad file descriptor",
        11 => "resource temporarily unavailable",
        12 => "cannot allocate memory",
        13 => "permission denied",
        17 => "file exists",
        20 => "not a directory",
        21 => "is a directory",
        22 => "invalid argument",
        23 => "too many open files in system",
        24 => "too many open files",
        28 => "no space left on device",
        32 => "broken pipe",
        36 => "file name too long",
        88 => "socket operation on non-socket",
        90 => "message too long",
        91 => "protocol wrong type for socket",
        93 => "protocol not supported",
        95 => "operation not supported",
        97 => "address family not supported by protocol",
        98 => "address already in use",
        99 => "cannot assign requested address",
        100 => "network is down",
        101 => "network is unreachable",
        103 => "software caused connection abort",
        104 => "connection reset by peer",
        105 => "no buffer space available",
        106 => "transport endpoint is already connected",
        107 => "transport endpoint is not connected",
        110 => "connection timed out",
        111 => "connection refused",
        113 => "no route to host",
        114 => "operation already in progress",
        115 => "operation now in progress",
        _ => return None,
    })
}

/// The portable kind of an error, as `embedded-io` classifies errors (and,
/// through it, `std::io::ErrorKind` with the `std` feature).
///
/// `Closed` (the goro object was closed locally) is `NotConnected`;
/// `ArenaFull` is `OutOfMemory`; `NotInGoroutine` is `Unsupported`; errno
/// values map to their usual kinds (`ECONNRESET` to `ConnectionReset`,
/// `EPIPE` to `BrokenPipe`, `ETIMEDOUT` to `TimedOut`, ...).
impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match *self {
            Error::Os(e) => errno_kind(e),
            Error::Closed => K::NotConnected,
            Error::TimedOut => K::TimedOut,
            Error::ArenaFull { .. } | Error::ClosureTooLarge { .. } => K::OutOfMemory,
            Error::NotInGoroutine => K::Unsupported,
            Error::InvalidConfig(_) | Error::InvalidInput(_) => K::InvalidInput,
        }
    }
}

fn errno_kind(e: i32) -> embedded_io::ErrorKind {
    use crate::sys::Errno as E;
    use embedded_io::ErrorKind as K;
    match E::from_raw_os_error(e) {
        E::NOENT => K::NotFound,
        E::ACCESS | E::PERM => K::PermissionDenied,
        E::CONNREFUSED => K::ConnectionRefused,
        E::CONNRESET => K::ConnectionReset,
        E::CONNABORTED => K::ConnectionAborted,
        E::NOTCONN => K::NotConnected,
        E::ADDRINUSE => K::AddrInUse,
        E::ADDRNOTAVAIL => K::AddrNotAvailable,
        E::PIPE => K::BrokenPipe,
        E::EXIST => K::AlreadyExists,
        E::INVAL | E::NAMETOOLONG | E::AFNOSUPPORT => K::InvalidInput,
        E::TIMEDOUT => K::TimedOut,
        E::INTR => K::Interrupted,
        E::NOMEM | E::NOBUFS => K::OutOfMemory,
        E::OPNOTSUPP | E::NOSYS | E::PROTONOSUPPORT => K::Unsupported,
        _ => K::Other,
    }
}

/// Prints `msg` to standard error and aborts the process: for broken
/// internal invariants only, never for bad input.
pub(crate) fn fatal(msg: &str) -> ! {
    crate::sys::write_stderr(msg.as_bytes());
    crate::sys::write_stderr(b"\n");
    crate::sys::signal::abort()
}
