//! `pandu` with the system allocator instead of mimalloc, for heap profilers that see malloc only
//! (heaptrack): `cargo build --release --example pandu_system_alloc`, then
//! `heaptrack target/release/examples/pandu_system_alloc serve`. Not for production.

fn main() -> std::process::ExitCode {
    pandu::cli::main()
}
