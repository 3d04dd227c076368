//! Carries the `log` records of sled (which logs through the `log` crate, not `tracing`) into our
//! tracing output, so that what sled says about recovery and corruption reaches the operator.
//!
//! Only sled's records are bridged: other dependencies that use `log` (teloxide, reqwest) could put a
//! request URL, and with it the bot token, into a message. sled's recovery notes ("cutting recovery
//! short due to torn batch") are `debug` records: they are raised to `info`, as is anything sled says
//! about corruption, so the default log level shows them. (tracing-log would do the bridging, but not
//! the filtering and raising; it is 40 lines.)
//!
//! Invariant: never forwards a record of another crate; never formats a record it does not forward.

struct SledToTracing;

static BRIDGE: SledToTracing = SledToTracing;

/// Installs the bridge (once per process; later calls change nothing).
pub fn install() {
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

/// Words that make a sled `debug` record worth an operator's attention.
const NOTEWORTHY: [&str; 4] = ["recovery", "torn", "corrupt", "crc"];

impl log::Log for SledToTracing {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("sled") && metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let source = record.target();
        match record.level() {
            log::Level::Error => tracing::error!(target: "sled", source, "{}", record.args()),
            log::Level::Warn => tracing::warn!(target: "sled", source, "{}", record.args()),
            log::Level::Info => tracing::info!(target: "sled", source, "{}", record.args()),
            _ => {
                let text = record.args().to_string();
                if NOTEWORTHY.iter().any(|word| text.contains(word)) {
                    tracing::info!(target: "sled", source, "{text}");
                } else {
                    tracing::debug!(target: "sled", source, "{text}");
                }
            }
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sled_recovery_and_corruption_notes_reach_the_log_and_nothing_else_does() {
        super::install();
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            log::debug!(target: "sled::pagecache::iterator", "cutting recovery short due to torn batch. required stable lsn: 7");
            log::warn!(target: "sled::pagecache::snapshot", "corrupt snapshot file found, crc does not match expected");
            log::debug!(target: "sled::pagecache::iobuf", "rolling to new segment");
            log::error!(target: "teloxide::requests", "https://api.telegram.org/bot123:SECRET/getMe failed");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("cutting recovery short"), "{out}");
        assert!(out.contains("corrupt snapshot file found"), "{out}");
        assert!(!out.contains("rolling to new segment"), "{out}");
        assert!(!out.contains("SECRET"), "{out}");
    }
}
