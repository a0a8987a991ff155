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

# Benchmarks (goro and, when `go` is on PATH, Go side by side).
bench:
    cargo run --release -p goro-bench

# Lints as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --target aarch64-unknown-linux-musl -- -D warnings
