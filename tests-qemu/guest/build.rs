//! Passes goro's linker script for the target architecture to the linker
//! (absolute path), for this crate's binaries only.

use std::env;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !target.ends_with("-unknown-linux-musl") || !matches!(arch.as_str(), "x86_64" | "aarch64") {
        panic!(
            "goro-qemu-guest is a freestanding image: build it with --target x86_64-unknown-linux-musl \
             or --target aarch64-unknown-linux-musl (not {target})"
        );
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = dir.join("../../linker").join(format!("{arch}.ld"));
    let script = script.canonicalize().unwrap_or_else(|e| panic!("linker script {}: {e}", script.display()));
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=build.rs");
}
