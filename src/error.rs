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
    /// A closure passed to `spawn` does not fit on a goroutine stack.
    ClosureTooLarge {
        /// Bytes the closure and its result slot need.
        size: usize,
        /// Bytes allowed (half of the usable stack).
        limit: usize,
    },
    /// The call needs to run on a goroutine (inside `goro::run`).
    NotInGoroutine,
    /// A configuration value is out of range; the text says which and why.
    InvalidConfig(&'static str),
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
            Error::Os(e) => write!(f, "os error {e}"),
            Error::Closed => f.write_str("use of closed goro object"),
            Error::TimedOut => f.write_str("deadline exceeded"),
            Error::ArenaFull { what, capacity } => {
                write!(f, "goro arena full: {what} (capacity {capacity})")
            }
            Error::ClosureTooLarge { size, limit } => write!(
                f,
                "closure of {size} bytes does not fit on a goroutine stack (limit {limit} bytes: \
                 raise Config::stack_size or box the captured data)"
            ),
            Error::NotInGoroutine => f.write_str("this call must be made from a goroutine"),
            Error::InvalidConfig(why) => write!(f, "invalid goro configuration: {why}"),
        }
    }
}

impl core::error::Error for Error {}

/// Prints `msg` to standard error and aborts the process: for broken
/// internal invariants only, never for bad input.
pub(crate) fn fatal(msg: &str) -> ! {
    crate::sys::write_stderr(msg.as_bytes());
    crate::sys::write_stderr(b"\n");
    crate::sys::signal::abort()
}
