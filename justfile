# goro recipes. `just --list` shows them.

# Run the demo example (release).
demo:
    cargo run --release --example demo

# Host tests, debug and release.
test:
    cargo test
    cargo test --release

# aarch64 musl tests under qemu-user (qemu-aarch64-static is the cargo runner).
cross-test:
    cargo test --target aarch64-unknown-linux-musl
    cargo test --release --target aarch64-unknown-linux-musl

# Static musl build of the library and examples on x86_64 too.
musl-test:
    cargo test --target x86_64-unknown-linux-musl

# Benchmarks (goro and, when `go` is on PATH, Go side by side), built with
# the `perf` profile (release plus fat LTO and one codegen unit).
bench:
    cargo run --profile perf -p goro-bench

# Lints as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --target aarch64-unknown-linux-musl -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p goro

# Freestanding goro images booted under qemu-system on x86_64 and aarch64
# (TCG, 2 vCPUs), with release and debug guests: builds tests-qemu/guest,
# fetches Debian's kernels once (cached in ~/.cache/goro-qemu), runs goro's
# behaviour cases as /init. See tests-qemu/README.md.
qemu-test:
    cargo run -q -p goro-qemu-tests
    cargo run -q -p goro-qemu-tests -- --debug

# Lints for goro's `freestanding` feature and the guest programs (their own
# workspace), both arches.
qemu-lint:
    cargo clippy -p goro --lib --features freestanding --target-dir target/qemu/lint --target x86_64-unknown-linux-musl -- -D warnings
    cargo clippy -p goro --lib --features freestanding --target-dir target/qemu/lint --target aarch64-unknown-linux-musl -- -D warnings
    cd tests-qemu/guest && cargo fmt -- --check
    cd tests-qemu/guest && cargo clippy --target-dir ../../target/qemu/guest --target x86_64-unknown-linux-musl -- -D warnings
    cd tests-qemu/guest && cargo clippy --target-dir ../../target/qemu/guest --target aarch64-unknown-linux-musl -- -D warnings
