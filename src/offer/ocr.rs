//! Reading a photographed or screenshotted job offer with Tesseract, where the server has it (Debian:
//! `tesseract-ocr` and `tesseract-ocr-ind`). Tesseract runs as a child process on the downloaded
//! attachment, never in this process: a bad image can only cost one child, killed at the time limit.
//!
//! Invariants: an image over `max_image_bytes` is not read; a run over `timeout_secs` is killed with
//! its process group (and reaped); at most [`MAX_OUTPUT_BYTES`] of its output are kept; no text of the image is logged; with
//! no `tesseract` (or `ocr.tesseract = ""`) [`Ocr::available`] is false and Pandu asks the user to type
//! or paste the text instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::OcrConfig;

/// More than any offer (the analyser reads 10,000 characters): the rest of the output is dropped.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("OCR is turned off (ocr.tesseract is empty)")]
    Off,
    #[error("tesseract not found: {0}")]
    Missing(String),
    #[error("image of {size} bytes is over the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("tesseract took longer than {0:?} and was stopped")]
    Timeout(Duration),
    #[error("tesseract failed: {0}")]
    Failed(String),
    #[error("cannot read the image: {0}")]
    Io(#[from] std::io::Error),
}

/// The configured Tesseract.
#[derive(Clone, Debug)]
pub struct Ocr {
    program: String,
    lang: String,
    timeout: Duration,
    max_image_bytes: u64,
}

impl Ocr {
    pub fn new(config: &OcrConfig) -> Ocr {
        Ocr {
            program: config.tesseract.trim().to_string(),
            lang: config.lang.trim().to_string(),
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            max_image_bytes: config.max_image_bytes,
        }
    }

    /// The program to run: a path as configured, or the first match on PATH.
    pub fn program(&self) -> Result<PathBuf, OcrError> {
        if self.program.is_empty() {
            return Err(OcrError::Off);
        }
        let given = Path::new(&self.program);
        if given.components().count() > 1 {
            return if is_executable(given) {
                Ok(given.to_path_buf())
            } else {
                Err(OcrError::Missing(self.program.clone()))
            };
        }
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(&self.program))
            .find(|p| is_executable(p))
            .ok_or_else(|| OcrError::Missing(self.program.clone()))
    }

    /// Whether a photo of an offer can be read here.
    pub fn available(&self) -> bool {
        self.program().is_ok()
    }

    /// The text Tesseract reads in `image` (blocking: call it from a blocking thread). Waits at most the
    /// time limit; a run over it is killed.
    pub fn read(&self, image: &Path) -> Result<String, OcrError> {
        let program = self.program()?;
        let size = std::fs::metadata(image)?.len();
        if size > self.max_image_bytes {
            return Err(OcrError::TooLarge {
                size,
                max: self.max_image_bytes,
            });
        }
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(&program)
            // Its own process group, so a timeout kills whatever it started too.
            .process_group(0)
            .arg(image)
            .arg("stdout")
            .arg("-l")
            .arg(&self.lang)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    OcrError::Missing(program.display().to_string())
                }
                _ => OcrError::Io(e),
            })?;
        // The output is read on its own thread so a full pipe never blocks the child.
        let reader = child.stdout.take().map(|out| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let _ = out.take(MAX_OUTPUT_BYTES as u64).read_to_end(&mut kept);
                kept
            })
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait()? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let group = rustix::process::Pid::from_child(&child);
                    let _ =
                        rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(OcrError::Timeout(self.timeout));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let bytes = reader.and_then(|r| r.join().ok()).unwrap_or_default();
        if !status.success() {
            return Err(OcrError::Failed(format!("exit status {status}")));
        }
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn ocr(program: &Path, timeout_secs: u64) -> Ocr {
        Ocr::new(&OcrConfig {
            tesseract: program.display().to_string(),
            timeout_secs,
            ..OcrConfig::default()
        })
    }

    #[test]
    fn a_missing_or_turned_off_tesseract_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let none = ocr(&dir.path().join("tesseract"), 10);
        assert!(!none.available());
        let image = dir.path().join("a.png");
        std::fs::write(&image, b"x").unwrap();
        assert!(matches!(none.read(&image), Err(OcrError::Missing(_))));
        let off = Ocr::new(&OcrConfig {
            tesseract: String::new(),
            ..OcrConfig::default()
        });
        assert!(matches!(off.program(), Err(OcrError::Off)));
        let on_path = Ocr::new(&OcrConfig {
            tesseract: "pandu-no-such-tesseract".into(),
            ..OcrConfig::default()
        });
        assert!(!on_path.available());
    }

    #[test]
    fn the_text_comes_from_the_child_and_its_arguments_name_the_image_and_language() {
        let dir = tempfile::tempdir().unwrap();
        let fake = script(dir.path(), "tesseract", r#"echo "args: $1 $2 $3 $4""#);
        let image = dir.path().join("offer.jpg");
        std::fs::write(&image, b"jpeg").unwrap();
        let text = ocr(&fake, 10).read(&image).unwrap();
        assert_eq!(text, format!("args: {} stdout -l ind", image.display()));
    }

    #[test]
    fn a_slow_run_is_killed_at_the_time_limit_and_a_large_image_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let slow = script(dir.path(), "tesseract", "sleep 30\necho late");
        let image = dir.path().join("offer.png");
        std::fs::write(&image, b"png").unwrap();
        let started = Instant::now();
        let err = ocr(&slow, 1).read(&image).unwrap_err();
        assert!(matches!(err, OcrError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let big = Ocr::new(&OcrConfig {
            tesseract: slow.display().to_string(),
            max_image_bytes: 2,
            ..OcrConfig::default()
        });
        assert!(matches!(
            big.read(&image),
            Err(OcrError::TooLarge { size: 3, max: 2 })
        ));
        let failing = script(dir.path(), "bad", "echo oops; exit 3");
        assert!(matches!(
            ocr(&failing, 5).read(&image),
            Err(OcrError::Failed(_))
        ));
    }
}
