//! The `pandu` binary: parses the command line and hands over to the library.

/// mimalloc instead of glibc's malloc (issue 16): on the footprint scenario 15 % less CPU per reply
/// (malloc and free were a quarter of `serve`'s profile) at the same peak memory, given
/// [`purge_at_once`]. See ARCHITECTURE.md, "Memory budget".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc reads its options from the environment once, as the process loads (before `main`). With its
/// default purge delay (1 s) freed pages stay mapped a while and `serve` peaked 19 MB higher than with
/// glibc; with `MIMALLOC_PURGE_DELAY=0` they go back to the system at once, at no measurable CPU cost.
/// So a process started without that variable runs itself again with it: the same binary, arguments and
/// pid (exec). An operator's own value is kept; if the exec fails, Pandu simply goes on as it is.
#[cfg(unix)]
fn purge_at_once() {
    use std::os::unix::process::CommandExt;
    const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(PURGE_DELAY).is_some() {
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
        .env(PURGE_DELAY, "0")
        .exec();
}

fn main() -> std::process::ExitCode {
    #[cfg(unix)]
    purge_at_once();
    pandu::cli::main()
}
