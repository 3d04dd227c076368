//! The `pandu` binary: parses the command line and hands over to the library.

/// mimalloc instead of glibc's malloc (issue 16), the default build: on the footprint scenario ≈ 40 %
/// less CPU per reply than glibc's malloc with one arena, which peaks ≈ 13 MB lower. The small-memory
/// build (`cargo build --release --no-default-features`) keeps glibc's malloc, tuned by
/// [`ALLOCATOR_OPTIONS`]. See ARCHITECTURE.md, "Memory budget".
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator reads its options from the environment once, as the process loads (before `main`), so
/// they are set by running the binary again with them (see [`allocator_options`]).
///
/// mimalloc: with its default purge delay (1 s) freed pages stay mapped a while and `serve` peaked
/// 19 MB higher; with `MIMALLOC_PURGE_DELAY=0` they go back to the system at once, at no measurable CPU
/// cost.
#[cfg(feature = "mimalloc")]
const ALLOCATOR_OPTIONS: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "0");

/// glibc's malloc: one arena for all threads instead of one per thread up to 8 per core (each keeps
/// its own free memory: −10 MB peak on the scenario), and a fixed trim threshold, which also fixes the
/// threshold above which a block gets its own mapping (glibc otherwise raises it after each large free,
/// so large buffers come to stay in the heap: −2.5 MB).
#[cfg(not(feature = "mimalloc"))]
const ALLOCATOR_OPTIONS: (&str, &str) = (
    "GLIBC_TUNABLES",
    "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=1048576",
);

/// A process started without [`ALLOCATOR_OPTIONS`]' variable runs itself again with it: the same
/// binary, arguments and pid (exec). An operator's own value is kept; if the exec fails, Pandu simply
/// goes on as it is.
#[cfg(unix)]
fn allocator_options() {
    use std::os::unix::process::CommandExt;
    let (name, value) = ALLOCATOR_OPTIONS;
    if std::env::var_os(name).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // Returns only if the exec failed.
    let _ = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(name, value)
        .exec();
}

fn main() -> std::process::ExitCode {
    #[cfg(unix)]
    allocator_options();
    pandu::cli::main()
}
