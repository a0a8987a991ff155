//! The result lines the runner reads from the console (see
//! `tests-qemu/src/verdict.rs`): one line per case, then a summary.

use core::fmt::Write;
use goro::freestanding::Line;
use goro::time::Instant;

/// Why a case failed.
pub type Failure = heapless::String<240>;

/// A case's outcome.
pub type Outcome = Result<(), Failure>;

/// Fails the case with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::report::failure(format_args!($($fmt)+)));
        }
    };
}

/// A formatted failure message (cut at its capacity).
pub fn failure(args: core::fmt::Arguments<'_>) -> Failure {
    let mut f = Failure::new();
    let _ = f.write_fmt(args);
    f
}

/// Converts any `Debug` error into a failure with context.
pub trait Context<T> {
    /// `Err(e)` becomes a failure "`what`: `e:?`".
    fn ctx(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: core::fmt::Debug> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| failure(format_args!("{what}: {e:?}")))
    }
}

/// Writes one whole line to standard output (one `write` call).
pub fn line(args: core::fmt::Arguments<'_>) {
    line_to(1, args);
}

/// Writes one whole line to standard error (one `write` call).
pub fn eline(args: core::fmt::Arguments<'_>) {
    line_to(2, args);
}

fn line_to(fd: i32, args: core::fmt::Arguments<'_>) {
    let mut l = Line::new();
    let _ = l.write_fmt(args);
    let _ = l.write_str("\n");
    let _ = l.write_to(fd);
}

/// Counts and prints case results.
#[derive(Default)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
}

impl Tally {
    /// Runs `case` and prints `ok <name> (<ms> ms)` or `FAIL <name>: <why>`.
    pub fn run(&mut self, name: &str, case: fn() -> Outcome) {
        let t = Instant::now();
        match case() {
            Ok(()) => {
                self.passed += 1;
                line(format_args!("ok {name} ({} ms)", t.elapsed().as_millis()));
            }
            Err(why) => {
                self.failed += 1;
                line(format_args!("FAIL {name}: {why}"));
            }
        }
    }

    /// Prints the final line.
    pub fn summary(&self) {
        line(format_args!("goro-qemu: {} passed, {} failed", self.passed, self.failed));
    }
}
