//! Futex wait and wake on a 32-bit atomic (process-private).

use core::sync::atomic::AtomicU32;
use rustix::thread::futex;

/// Blocks while `*word == expected` (or until a wake-up or a signal).
/// Spurious returns are possible; callers re-check their condition.
#[doc(alias = "FUTEX_WAIT")]
pub(crate) fn wait(word: &AtomicU32, expected: u32) {
    let _ = futex::wait(word, futex::Flags::PRIVATE, expected, None);
}

/// Wakes up to `n` threads blocked in [`wait`] on `word`.
#[doc(alias = "FUTEX_WAKE")]
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, futex::Flags::PRIVATE, n);
}

/// Like [`wait`], but gives up after `ns` nanoseconds.
#[doc(alias = "FUTEX_WAIT")]
pub(crate) fn wait_timeout(word: &AtomicU32, expected: u32, ns: i64) {
    let ts = rustix::time::Timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 };
    let _ = futex::wait(word, futex::Flags::PRIVATE, expected, Some(&ts));
}
