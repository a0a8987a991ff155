//! The panic handler of freestanding programs: the message on standard
//! error, then exit status 101 (as a Rust program with `std` would), or a
//! power-off for `init` (see [`super::exit`]).

use super::Line;
use crate::sys;
use core::fmt::Write;
use core::sync::atomic::{AtomicI32, Ordering};

/// Thread id of the first thread that panicked (0: none yet).
static PANICKING: AtomicI32 = AtomicI32::new(0);

#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let tid = sys::process::gettid();
    match PANICKING.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        // A panic while reporting one: end at once, without formatting.
        Err(first) if first == tid => {
            if super::is_init() {
                sys::process::power_off(101)
            }
            sys::process::exit_group(101)
        }
        // Another thread is reporting its panic and will end the process:
        // let it finish its message rather than cut it short.
        Err(_) => loop {
            sys::thread_sleep(1_000_000_000);
        },
    }
    let mut line = Line::new();
    match crate::goroutine_id() {
        Some(id) => {
            let _ = write!(line, "goroutine {id} panicked");
        }
        None => {
            let _ = line.write_str("goro thread panicked");
        }
    }
    if let Some(loc) = info.location() {
        let _ = write!(line, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let _ = write!(line, ":\n{}\n", info.message());
    let _ = line.write_to(2);
    super::exit(101)
}

/// Debug builds of the precompiled `core` carry unwind tables that name
/// this symbol; with `panic = "abort"` nothing ever calls it.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
