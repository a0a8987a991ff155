//! The whole program: goro's own entry point for binaries with no libc
//! (feature `freestanding`).
//!
//! A freestanding program is `#![no_std]` and `#![no_main]`, built for a
//! `*-unknown-linux-musl` target without musl's C runtime objects
//! (`-C link-self-contained=no`), and names its main goroutine with
//! [`freestanding_main!`](crate::freestanding_main):
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! goro::freestanding_main!(fn main() -> i32 {
//!     let h = goro::spawn(|| 6 * 7).unwrap();
//!     h.join().unwrap() - 42
//! });
//! ```
//!
//! With this feature goro provides what the C runtime and libc would have:
//!
//! - `_start` (`arch/<arch>/start.s`): reads argc, argv, envp and the
//!   auxiliary vector from the initial stack, records the page size
//!   (`AT_PAGESZ`) and the environment for the runtime, sets SIGPIPE to
//!   ignored (a write to a pipe with no reader fails with EPIPE instead of
//!   killing the program, as under Rust's std; [`spawn`] gives children the
//!   default action back), runs the program's
//!   main goroutine on a [`Runtime`] with raw `clone` threads
//!   ([`Threads::Clone`](crate::Threads::Clone)), and ends the process with
//!   its code ([`exit`]);
//! - a panic handler that prints the message to standard error and exits
//!   with 101, and the `rust_eh_personality` symbol debug builds of `core`
//!   refer to (panics must abort: `panic = "abort"`);
//! - `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`, `strlen`
//!   (`arch/<arch>/mem.s`).
//!
//! No thread-local storage exists in such a program (no C runtime sets up
//! `fs`/`tpidr_el0`, and `.init_array` constructors never run); goro never
//! needs either. Linker scripts for static images are in `linker/`; see
//! `tests-qemu/README.md` for building and booting an image.
//!
//! The feature must be enabled only by the final binary (it defines
//! `_start`, the panic handler and the C memory functions), never by a
//! library, and it cannot be combined with `std`.
//!
//! # Safety
//!
//! This module may use `unsafe`: it exports unmangled symbols for the
//! assembly and the linker, and reads the kernel-built initial stack.
#![allow(unsafe_code)]

mod panic;
mod process;

pub use crate::sys::process::ExitStatus;
pub use process::{spawn, wait};

use crate::{sys, Config, Runtime};
use core::ffi::CStr;
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "std")]
compile_error!("goro: the `freestanding` feature (a whole program without libc) cannot be combined with `std`");

#[cfg(not(target_os = "linux"))]
compile_error!("goro: the `freestanding` feature needs a Linux target (x86_64/aarch64-unknown-linux-musl)");

/// Auxiliary vector entry types (`<linux/auxvec.h>`).
pub mod at {
    /// End of the vector.
    pub const NULL: usize = 0;
    /// The system page size.
    pub const PAGESZ: usize = 6;
    /// Hardware capability bits.
    pub const HWCAP: usize = 16;
    /// Address of 16 random bytes.
    pub const RANDOM: usize = 25;
    /// More hardware capability bits.
    pub const HWCAP2: usize = 26;
    /// Address of the vDSO's ELF header.
    pub const SYSINFO_EHDR: usize = 33;
}

/// What `_start` found on the initial stack (set once, before `main`).
static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicUsize = AtomicUsize::new(0);
static ENVP: AtomicUsize = AtomicUsize::new(0);
static AUXV: AtomicUsize = AtomicUsize::new(0);

extern "C" {
    /// The program's main function, defined by `freestanding_main!`. A link
    /// error naming this symbol means the program lacks that macro.
    fn goro_freestanding_main() -> i32;
}

/// The Rust side of `_start`: `sp` is the stack pointer the kernel handed
/// the process (the address of `argc`).
///
/// # Safety
///
/// Only `_start` calls this, once, with the kernel's initial stack layout
/// (argc, argv[argc], NULL, envp..., NULL, auxv pairs..., AT_NULL).
#[no_mangle]
unsafe extern "C" fn goro_start(sp: *const usize) -> ! {
    debug_assert_eq!(sp as usize % 16, 0, "goro: _start: initial stack pointer is not 16-byte aligned");
    // SAFETY: the kernel's layout (see above): argc at sp, then argc pointers and a NULL, then the environment up to
    // its NULL, then the auxiliary vector up to AT_NULL. Nothing here writes to it.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        let mut p = envp;
        while !(*p).is_null() {
            p = p.add(1);
        }
        let auxv = p.add(1) as *const usize;
        ARGC.store(argc, Ordering::Relaxed);
        ARGV.store(argv as usize, Ordering::Relaxed);
        ENVP.store(envp as usize, Ordering::Relaxed);
        AUXV.store(auxv as usize, Ordering::Release);
        // The environment lives on the initial stack, which stays put:
        // goro_start never returns.
        sys::set_envp(envp);
    }
    if let Some(page) = auxv(at::PAGESZ) {
        sys::set_page_size(page);
    }
    // A write to a pipe whose reader is gone fails with EPIPE instead of
    // killing the program (goro's sockets already send with MSG_NOSIGNAL),
    // as Rust's std arranges at start-up. `spawn` gives children the
    // default action back.
    if let Ok(old) = sys::signal::ignore(sys::signal::SIGPIPE) {
        SIGPIPE_AT_START.store(old, Ordering::Relaxed);
    }
    // SAFETY: `freestanding_main!` defines this symbol as a safe
    // `extern "C" fn() -> i32`; the entry runs it exactly once.
    let code = unsafe { goro_freestanding_main() };
    exit(code)
}

/// SIGPIPE's handler word when the program started (0 = `SIG_DFL`,
/// 1 = `SIG_IGN`), before the entry set it to ignored.
static SIGPIPE_AT_START: AtomicUsize = AtomicUsize::new(0);

/// SIGPIPE's disposition as this program inherited it: 0 is the default
/// action, 1 ignored. For tests of [`spawn`], which restores the default
/// for its children.
#[doc(hidden)]
pub fn sigpipe_at_start() -> usize {
    SIGPIPE_AT_START.load(Ordering::Relaxed)
}

/// Value of auxiliary vector entry `ty` (see [`at`]), if the kernel gave one.
pub fn auxv(ty: usize) -> Option<usize> {
    let mut p = AUXV.load(Ordering::Acquire) as *const usize;
    if p.is_null() {
        return None;
    }
    loop {
        // SAFETY: `goro_start` recorded the kernel's auxiliary vector:
        // (type, value) pairs up to an AT_NULL type; we stop there.
        let (t, v) = unsafe { (*p, *p.add(1)) };
        if t == at::NULL {
            return None;
        }
        if t == ty {
            return Some(v);
        }
        // SAFETY: this pair was not the terminator, so another follows.
        p = unsafe { p.add(2) };
    }
}

/// The program's arguments (`argv[0]` first), as the kernel passed them.
pub fn args() -> impl ExactSizeIterator<Item = &'static CStr> {
    let argc = ARGC.load(Ordering::Relaxed);
    let argv = ARGV.load(Ordering::Relaxed) as *const *const u8;
    (0..if argv.is_null() { 0 } else { argc }).map(move |i| {
        // SAFETY: i < argc, and argv[i] is a NUL-terminated string on the
        // initial stack, which lives as long as the process.
        unsafe { CStr::from_ptr((*argv.add(i)).cast()) }
    })
}

/// The environment, `NAME=value` entries in the kernel's order (for `/init`,
/// the kernel command line's `NAME=value` words the kernel did not know).
pub fn env() -> impl Iterator<Item = &'static CStr> {
    let mut p = ENVP.load(Ordering::Relaxed) as *const *const u8;
    core::iter::from_fn(move || {
        // SAFETY: envp is a NULL-terminated array on the initial stack; we
        // stop at the NULL and never step past it.
        unsafe {
            if p.is_null() || (*p).is_null() {
                return None;
            }
            let s = CStr::from_ptr((*p).cast());
            p = p.add(1);
            Some(s)
        }
    })
}

/// The value of environment variable `name`.
pub fn var(name: &str) -> Option<&'static [u8]> {
    let name = name.as_bytes();
    env().map(CStr::to_bytes).find_map(|e| {
        (e.len() > name.len() && e.starts_with(name) && e[name.len()] == b'=').then(|| &e[name.len() + 1..])
    })
}

/// The raw `envp` array `_start` found (for [`spawn`]); null before start-up.
pub(crate) fn envp() -> *const *const u8 {
    ENVP.load(Ordering::Relaxed) as *const *const u8
}

/// Whether this process is `init` (pid 1), where exiting would panic the
/// kernel.
pub fn is_init() -> bool {
    sys::process::getpid() == 1
}

/// Ends the program with `code`: `exit_group(code)`, or, for `init`
/// (pid 1, whose exit panics the kernel), a message on standard error and
/// a power-off.
pub fn exit(code: i32) -> ! {
    if is_init() {
        let mut line = Line::new();
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!("goro: init exited with {code}; powering off\n"));
        let _ = sys::process::write_all(2, line.as_bytes());
        sys::process::power_off(code)
    }
    sys::process::exit_group(code)
}

/// Powers the machine off at once (`reboot(POWER_OFF)`; needs
/// `CAP_SYS_BOOT`). If the kernel refuses, exits with 1.
pub fn power_off() -> ! {
    sys::process::power_off(1)
}

/// Runs `main` as the main goroutine of `rt` with `config` and returns its
/// exit code (1, after a message on standard error, if the runtime cannot
/// start). `freestanding_main!` calls this.
pub fn run_main<const N: usize, const FDS: usize>(
    rt: &'static Runtime<N, FDS>,
    config: Config,
    main: fn() -> i32,
) -> i32 {
    match rt.run(config, main) {
        Ok(code) => code,
        Err(e) => {
            let mut line = Line::new();
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!("goro: cannot start the runtime: {e}\n"));
            let _ = sys::process::write_all(2, line.as_bytes());
            1
        }
    }
}

/// Runs `main` on goro's default runtime (see [`crate::run`]).
pub fn run_default(main: fn() -> i32) -> i32 {
    match crate::run(main) {
        Ok(code) => code,
        Err(e) => {
            let mut line = Line::new();
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!("goro: cannot start the runtime: {e}\n"));
            let _ = sys::process::write_all(2, line.as_bytes());
            1
        }
    }
}

/// Standard output (fd 1) as a `core::fmt::Write` sink: every `write_str`
/// is one or more `write(2)` calls, so format a line into a [`Line`] first
/// when lines from several goroutines must not interleave.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdout;

/// Standard error (fd 2), as [`Stdout`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Stderr;

impl core::fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        sys::process::write_all(1, s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

impl core::fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        sys::process::write_all(2, s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// A line of up to 512 bytes formatted on the stack, written with one
/// system call by [`Line::write_to`] (text past the capacity is dropped and
/// the line ends in `...`).
pub struct Line {
    buf: [u8; 512],
    len: usize,
    cut: bool,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Line { buf: [0; 512], len: 0, cut: false }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the line to `fd` (1: standard output, 2: standard error).
    pub fn write_to(&self, fd: i32) -> Result<(), crate::Error> {
        sys::process::write_all(fd, self.as_bytes())
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - self.len;
        if s.len() > room {
            let keep = room.saturating_sub(4);
            self.buf[self.len..self.len + keep].copy_from_slice(&s.as_bytes()[..keep]);
            self.len += keep;
            if !self.cut {
                self.buf[self.len..self.len + 4].copy_from_slice(b"...\n");
                self.len += 4;
                self.cut = true;
            }
            return Ok(());
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// Names the main goroutine of a freestanding program and makes it the
/// program's entry (feature `freestanding`; see [`goro::freestanding`](crate::freestanding)).
///
/// ```ignore
/// // goro's default runtime (goro::run):
/// goro::freestanding_main!(fn main() -> i32 { 0 });
///
/// // your own runtime and configuration:
/// static RT: goro::Runtime<1024, 256> = goro::Runtime::new();
/// goro::freestanding_main!(runtime = &RT, config = goro::Config::new().procs(2), fn main() -> i32 { 0 });
/// ```
///
/// `main` runs as the first goroutine; when it returns, the process ends
/// with its value as exit code ([`exit`]: for `init`, a power-off). The
/// macro defines the unmangled symbol `goro_freestanding_main`, which
/// `_start` calls; a program may use it once.
#[macro_export]
macro_rules! freestanding_main {
    (fn $name:ident() -> i32 $body:block) => {
        fn $name() -> i32 $body
        // goro's `_start` calls this symbol; the name is reserved for it.
        #[unsafe(export_name = "goro_freestanding_main")]
        extern "C" fn __goro_freestanding_main() -> i32 {
            $crate::freestanding::run_default($name)
        }
    };
    (runtime = $rt:expr, config = $config:expr, fn $name:ident() -> i32 $body:block) => {
        fn $name() -> i32 $body
        // goro's `_start` calls this symbol; the name is reserved for it.
        #[unsafe(export_name = "goro_freestanding_main")]
        extern "C" fn __goro_freestanding_main() -> i32 {
            $crate::freestanding::run_main($rt, $config, $name)
        }
    };
}
