//! `/init` of goro's qemu test image: brings up `lo`, runs goro's behaviour
//! cases, prints one line per case and a summary (the runner reads them
//! from the serial console), and powers off.
//!
//! `/init overflow` is the child process of the `stack_overflow` case.
#![no_std]
#![no_main]

use goro_qemu_guest::cases::{
    self,
    process::{OVERFLOW_ARG, SIGPIPE_ARG},
};
use goro_qemu_guest::lo;
use goro_qemu_guest::report::{line, Tally};

goro::freestanding_main!(
    fn main() -> i32 {
        if goro::freestanding::args().nth(1).is_some_and(|a| a.to_bytes() == OVERFLOW_ARG.as_bytes()) {
            return cases::process::overflow_child();
        }
        if goro::freestanding::args().nth(1).is_some_and(|a| a.to_bytes() == SIGPIPE_ARG.as_bytes()) {
            return cases::process::sigpipe_child();
        }
        let arch = if cfg!(target_arch = "x86_64") { "x86_64" } else { "aarch64" };
        line(format_args!("goro-qemu: start {arch}, {} cpus, {} cases", goro::stats().procs, cases::ALL.len()));
        if let Err(e) = lo::up() {
            line(format_args!("goro-qemu: cannot bring up lo: {e:?}"));
        }
        let mut t = Tally::default();
        for (name, case) in cases::ALL {
            t.run(name, *case);
        }
        t.summary();
        i32::from(t.failed != 0)
    }
);
