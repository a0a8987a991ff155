//! goro's qemu test runner (`just qemu-test`).
//!
//! For each architecture: builds the freestanding guest programs in
//! `tests-qemu/guest` (`/init` with goro's behaviour cases, and the `echo`
//! server), packs them into a newc initramfs, fetches and caches Debian's
//! kernel, boots it under qemu-system (TCG, 2 vCPUs, at most `--timeout`
//! seconds), prints the console, and checks the result lines `/init`
//! printed. Exit status 0 only if every case of every architecture passed.
//!
//! ```text
//! goro-qemu-tests [--arch x86_64|aarch64]... [--debug] [--timeout SECS] [--append WORDS]
//! goro-qemu-tests --arch x86_64|aarch64 --init PROGRAM [--timeout SECS] [--append WORDS]
//! ```
//!
//! The second form boots a program of your own as `/init` (no test
//! verdict: the console is shown, and the exit status says whether the
//! guest powered off before the time-out).

mod cpio;
mod elf;
mod kernel;
mod qemu;
mod verdict;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

/// A guest architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }
}

/// The programs packed into every initramfs (`/init` first).
const PROGRAMS: [&str; 2] = ["init", "echo"];

/// Largest stripped release `/echo` allowed (the issue's size target for a
/// freestanding goro server, on both architectures).
const ECHO_MAX: usize = 64 * 1024;

struct Options {
    arches: Vec<Arch>,
    debug: bool,
    timeout: Duration,
    append: String,
    /// Boot this program as /init instead of the test image.
    init: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        arches: Vec::new(),
        debug: false,
        timeout: Duration::from_secs(120),
        append: String::new(),
        init: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--arch" => match args.next().as_deref() {
                Some("x86_64") => o.arches.push(Arch::X86_64),
                Some("aarch64") => o.arches.push(Arch::Aarch64),
                other => return Err(format!("--arch x86_64|aarch64, not {other:?}")),
            },
            "--debug" => o.debug = true,
            "--timeout" => {
                let s = args.next().ok_or("--timeout needs seconds")?;
                o.timeout = Duration::from_secs(s.parse().map_err(|_| format!("--timeout {s}: not a number"))?);
            }
            "--append" => o.append = args.next().ok_or("--append needs kernel command-line words")?,
            "--init" => o.init = Some(args.next().ok_or("--init needs a program")?.into()),
            "-h" | "--help" => {
                println!(
                    "goro-qemu-tests [--arch x86_64|aarch64]... [--debug] [--timeout SECS] [--append WORDS]\n\
                     goro-qemu-tests --arch x86_64|aarch64 --init PROGRAM [--timeout SECS] [--append WORDS]\n\
                     Boots goro's freestanding test image (or PROGRAM as /init) under qemu-system\n\
                     for each architecture (default: both). Kernels are cached in {}.",
                    kernel::cache_dir().display()
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if o.init.is_some() && o.arches.len() != 1 {
        return Err("--init needs exactly one --arch".into());
    }
    if o.arches.is_empty() {
        o.arches = vec![Arch::X86_64, Arch::Aarch64];
    }
    Ok(o)
}

/// The repository root (the runner lives in `<root>/tests-qemu`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests-qemu has a parent").to_path_buf()
}

/// Builds the guest programs for `arch`; returns the folder holding them.
fn build_guest(arch: Arch, debug: bool) -> Result<PathBuf, String> {
    let root = repo_root();
    let guest = root.join("tests-qemu/guest");
    let target_dir = root.join("target/qemu/guest");
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // Run from the guest folder so its .cargo/config.toml (the freestanding
    // flags) applies, and keep a user's RUSTFLAGS from replacing them.
    c.current_dir(&guest)
        .args(["build", "--bins", "--target", arch.target()])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    if !debug {
        c.arg("--release");
    }
    let st = c.status().map_err(|e| format!("cargo: {e}"))?;
    if !st.success() {
        return Err(format!("building the {} guest failed ({st})", arch.name()));
    }
    Ok(target_dir.join(arch.target()).join(if debug { "debug" } else { "release" }))
}

/// Checks the guest programs (static, no dynamic symbols, `/echo` small
/// enough in release builds) and packs them into an initramfs; returns its
/// path.
fn initramfs(arch: Arch, bins: &Path, debug: bool) -> Result<PathBuf, String> {
    let mut a = cpio::Archive::new();
    a.dir("tmp", 0o1777);
    for p in PROGRAMS {
        let path = bins.join(p);
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("qemu-test: {} /{p}: {} bytes ({:.1} KiB)", arch.name(), data.len(), data.len() as f64 / 1024.0);
        elf::check_static(&data).map_err(|e| format!("{}: {e}", path.display()))?;
        if p == "echo" && !debug && data.len() > ECHO_MAX {
            return Err(format!(
                "{}: {} bytes, over the {ECHO_MAX}-byte budget of a freestanding echo server \
                 (look for new core::fmt/Debug uses or data that left .bss)",
                path.display(),
                data.len()
            ));
        }
        a.file(p, 0o755, &data);
    }
    let dir = repo_root().join("target/qemu").join(arch.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("initramfs.cpio");
    std::fs::write(&out, a.finish()).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// Builds, boots and checks one architecture. Returns (passed, failed).
fn run_arch(arch: Arch, o: &Options) -> Result<(u32, u32), String> {
    let bins = build_guest(arch, o.debug)?;
    let initrd = initramfs(arch, &bins, o.debug)?;
    let (kernel, package) = kernel::ensure(arch)?;
    println!("qemu-test: {} booting {package} ({}), timeout {} s", arch.name(), kernel.display(), o.timeout.as_secs());
    let cmd = qemu::command(arch, &kernel, &initrd, &o.append);
    let tag = arch.name();
    let boot = qemu::boot(cmd, o.timeout, verdict::START, |l| println!("[{tag}] {l}"))?;
    let v = verdict::judge(&boot.lines);
    match boot.first_line {
        Some(t) => println!(
            "qemu-test: {tag} boot to /init {:.2} s, whole run {:.2} s",
            t.as_secs_f64(),
            boot.elapsed.as_secs_f64()
        ),
        None => println!("qemu-test: {tag} /init never started; run took {:.2} s", boot.elapsed.as_secs_f64()),
    }
    if !boot.stderr.trim().is_empty() {
        println!("qemu-test: {tag} qemu stderr:\n{}", boot.stderr.trim_end());
    }
    let mut problems = v.problems;
    if boot.timed_out {
        problems.push(format!("timed out after {} s", o.timeout.as_secs()));
    }
    if problems.is_empty() {
        Ok((v.passed, v.failed))
    } else {
        for p in &problems {
            println!("qemu-test: {tag} FAILED: {p}");
        }
        Ok((v.passed, v.failed.max(1)))
    }
}

/// Boots `program` as `/init` and shows the console. Ok if the guest
/// powered off (or the kernel stopped) before the time-out.
fn boot_program(arch: Arch, program: &Path, o: &Options) -> Result<(), String> {
    let data = std::fs::read(program).map_err(|e| format!("{}: {e}", program.display()))?;
    if let Err(e) = elf::check_static(&data) {
        println!("qemu-test: warning: {}: {e}", program.display());
    }
    let mut a = cpio::Archive::new();
    a.dir("tmp", 0o1777);
    a.file("init", 0o755, &data);
    let dir = repo_root().join("target/qemu").join(arch.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let initrd = dir.join("init-program.cpio");
    std::fs::write(&initrd, a.finish()).map_err(|e| format!("{}: {e}", initrd.display()))?;
    let (kernel, package) = kernel::ensure(arch)?;
    println!("qemu-test: {} booting {} as /init with {package}", arch.name(), program.display());
    let cmd = qemu::command(arch, &kernel, &initrd, &o.append);
    let boot = qemu::boot(cmd, o.timeout, "", |l| println!("{l}"))?;
    println!("qemu-test: {} run took {:.2} s", arch.name(), boot.elapsed.as_secs_f64());
    if boot.timed_out {
        return Err(format!("timed out after {} s", o.timeout.as_secs()));
    }
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("goro-qemu-tests: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(program) = &o.init {
        return match boot_program(o.arches[0], program, &o) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("qemu-test: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (mut passed, mut failed) = (0, 0);
    for &arch in &o.arches {
        match run_arch(arch, &o) {
            Ok((p, f)) => {
                println!("qemu-test: {}: {p} passed, {f} failed", arch.name());
                passed += p;
                failed += f;
            }
            Err(e) => {
                println!("qemu-test: {} FAILED: {e}", arch.name());
                failed += 1;
            }
        }
    }
    println!("qemu-test: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
