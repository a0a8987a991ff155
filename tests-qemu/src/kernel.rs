//! Debian's kernels for the guests, fetched once with `apt-get download`
//! and cached (`$GORO_QEMU_CACHE`, else `$XDG_CACHE_HOME/goro-qemu`, else
//! `~/.cache/goro-qemu`).
//!
//! apt runs with private package lists and caches inside the cache folder
//! (`-o Dir::State::Lists=... -o Dir::Cache=...`) and with both `amd64` and
//! `arm64` in `APT::Architectures`, so the system's apt state (its lists,
//! its foreign architectures) is never touched, and no root-only file is
//! written. Only `./boot/vmlinuz-*` is extracted from each package
//! (`dpkg-deb --fsys-tarfile | tar`).
//!
//! x86_64: the bzImage spends most of a TCG boot decompressing itself, so
//! the uncompressed ELF `vmlinux` inside it (the XZ stream after the setup
//! code) is extracted with `xz` and booted through its PVH entry. aarch64:
//! Debian's arm64 `vmlinuz` is already an uncompressed `Image`.

use crate::Arch;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cache folder.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GORO_QEMU_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("goro-qemu");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/goro-qemu")
}

/// Debian's architecture name.
fn deb_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "amd64",
        Arch::Aarch64 => "arm64",
    }
}

/// The kernel to boot for `arch`, downloading it on first use. Returns the
/// path and the package it came from.
pub fn ensure(arch: Arch) -> Result<(PathBuf, String), String> {
    let dir = cache_dir().join(deb_arch(arch));
    let kernel = dir.join("kernel");
    let package = dir.join("package");
    if kernel.is_file() {
        let name = fs::read_to_string(&package).unwrap_or_default();
        return Ok((kernel, name.trim().to_string()));
    }
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let apt = Apt::new(&cache_dir().join("apt"))?;
    let meta = format!("linux-image-{}:{}", deb_arch(arch), deb_arch(arch));
    let name = apt.depends_on_kernel(&meta)?;
    eprintln!("qemu-test: downloading {name} ({})", deb_arch(arch));
    let work = dir.join("download");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    apt.download(&format!("{name}:{}", deb_arch(arch)), &work)?;
    let deb = find_file(&work, |n| n.ends_with(".deb"))?;
    extract_boot(&deb, &work)?;
    let vmlinuz = find_file(&work.join("boot"), |n| n.starts_with("vmlinuz-"))?;
    let image = match arch {
        Arch::X86_64 => match bzimage_to_vmlinux(&vmlinuz) {
            Ok(elf) => elf,
            Err(e) => {
                eprintln!("qemu-test: booting the compressed bzImage ({e}); boots are ~5 s slower");
                fs::read(&vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?
            }
        },
        Arch::Aarch64 => fs::read(&vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?,
    };
    let tmp = dir.join("kernel.tmp");
    fs::write(&tmp, &image).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, &kernel).map_err(|e| format!("{}: {e}", kernel.display()))?;
    fs::write(&package, format!("{name}\n")).map_err(|e| format!("{}: {e}", package.display()))?;
    let _ = fs::remove_dir_all(&work);
    // The private package lists (~45 MB) are only needed to download.
    let _ = fs::remove_dir_all(cache_dir().join("apt"));
    Ok((kernel, name))
}

fn find_file(dir: &Path, want: impl Fn(&str) -> bool) -> Result<PathBuf, String> {
    let rd = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd.flatten() {
        if e.file_name().to_str().is_some_and(&want) {
            return Ok(e.path());
        }
    }
    Err(format!("{}: expected file not found", dir.display()))
}

/// apt with private lists and caches under `root`.
struct Apt {
    opts: Vec<String>,
}

impl Apt {
    /// Prepares the private state and runs `apt-get update` into it (once
    /// per runner invocation that needs a kernel).
    fn new(root: &Path) -> Result<Apt, String> {
        let lists = root.join("lists");
        let cache = root.join("cache");
        for d in [lists.join("partial"), cache.join("archives/partial")] {
            fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let opts = vec![
            format!("Dir::State::Lists={}", lists.display()),
            format!("Dir::Cache={}", cache.display()),
            "APT::Architectures::=amd64".into(),
            "APT::Architectures::=arm64".into(),
            // Downloads land in folders the _apt user may not write to.
            "APT::Sandbox::User=root".into(),
        ];
        let apt = Apt { opts };
        apt.run("apt-get", &["-qq", "update"], None)?;
        Ok(apt)
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        for o in &self.opts {
            c.arg("-o").arg(o);
        }
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    }

    fn run(&self, tool: &str, args: &[&str], cwd: Option<&Path>) -> Result<String, String> {
        let mut c = self.command(tool);
        c.args(args).stdin(Stdio::null());
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let out = c.output().map_err(|e| format!("{tool}: {e} (is apt installed?)"))?;
        if !out.status.success() {
            return Err(format!("{tool} {}: {}\n{}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The versioned kernel package a metapackage (`linux-image-amd64`)
    /// depends on, e.g. `linux-image-6.1.0-56-amd64`.
    fn depends_on_kernel(&self, meta: &str) -> Result<String, String> {
        let out = self.run("apt-cache", &["depends", meta], None)?;
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .map(|d| d.split(':').next().unwrap_or(d).trim())
            .find(|d| d.starts_with("linux-image-"))
            .map(str::to_string)
            .ok_or_else(|| format!("apt-cache depends {meta}: no linux-image dependency in:\n{out}"))
    }

    fn download(&self, pkg: &str, dir: &Path) -> Result<(), String> {
        self.run("apt-get", &["-qq", "download", pkg], Some(dir)).map(|_| ())
    }
}

/// `dpkg-deb --fsys-tarfile deb | tar -x ./boot/vmlinuz-*` into `dir`.
fn extract_boot(deb: &Path, dir: &Path) -> Result<(), String> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    let pipe = dpkg.stdout.take().expect("piped stdout");
    let tar = Command::new("tar")
        .args(["-x", "-f", "-", "--wildcards", "./boot/vmlinuz-*"])
        .current_dir(dir)
        .stdin(pipe)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    let st = dpkg.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !st.success() || !tar.success() {
        return Err(format!("extracting {}: dpkg-deb {st}, tar {tar}", deb.display()));
    }
    Ok(())
}

/// The uncompressed ELF kernel inside an x86 bzImage whose payload is
/// XZ-compressed (Debian's): the first XZ stream, decompressed by `xz`.
fn bzimage_to_vmlinux(bzimage: &Path) -> Result<Vec<u8>, String> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\0";
    let data = fs::read(bzimage).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    let at = data.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC).ok_or("no XZ stream in the bzImage")?;
    let mut xz = Command::new("xz")
        .args(["-d", "-c", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("xz: {e}"))?;
    let mut stdin = xz.stdin.take().expect("piped stdin");
    let payload = data[at..].to_vec();
    let feeder = std::thread::spawn(move || {
        // xz stops reading after the first stream; a broken pipe is fine.
        let _ = stdin.write_all(&payload);
    });
    let out = xz.wait_with_output().map_err(|e| format!("xz: {e}"))?;
    let _ = feeder.join();
    if !out.stdout.starts_with(b"\x7fELF") {
        return Err(format!("xz ({}) did not produce an ELF file", out.status));
    }
    Ok(out.stdout)
}
