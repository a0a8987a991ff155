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
