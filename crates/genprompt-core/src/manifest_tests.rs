use serde_json::json;

use super::*;

fn manifest() -> Manifest {
    let model = |backend: &str| ModelInfo { backend: backend.into(), name: "m".into(), sha256: "ab".into() };
    let mut labels = BTreeMap::new();
    let rejected = RejectionCounts { refusal: 1, llm_error: 2, ..RejectionCounts::default() };
    labels.insert(
        "sports".to_string(),
        LabelCounts { seed_rows: 3, requested: 4, kept: 4, llm_calls: 7, batches: 2, truncated: 1, rejected },
    );
    Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        genprompt_version: "0.1.0".into(),
        task: "tiny".into(),
        task_file_sha256: "00".into(),
        method: "genetic".into(),
        parameters: BTreeMap::from([("batch_size".to_string(), json!(20))]),
        rng_seed: u64::MAX,
        llm: model("llama.cpp"),
        encoder: model("candle"),
        seed_rows_file: "seeds.jsonl".into(),
        seed_rows_sha256: "11".into(),
        n_per_label: 4,
        labels,
        tokens: TokenUsage { prompt: 10, completion: 5 },
        requests: RequestCounts { total: 7, sent: 7, failed: 2, ..RequestCounts::default() },
        cost: Cost { paid_prompt_tokens: 10, paid_completion_tokens: 5, usd: Some(0.0), ..Cost::default() },
        timings: Timings { total_s: 1.5, ..Timings::default() },
        endpoints: Vec::new(),
        short_labels: Vec::new(),
    }
}

#[test]
fn a_manifest_round_trips_and_names_its_format_first() {
    let text = serde_json::to_string_pretty(&manifest()).unwrap();
    assert!(text.starts_with("{\n  \"format_version\": 2,"), "{text}");
    assert_eq!(Manifest::from_json(&text).unwrap(), manifest());
    // A seed above 2^53 survives: JSON numbers are not forced through f64.
    assert!(text.contains("\"rng_seed\": 18446744073709551615"), "{text}");
}

#[test]
fn a_version_1_manifest_reads_with_the_fields_added_since_at_their_defaults() {
    let mut value = serde_json::to_value(manifest()).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("requests");
    object.remove("cost");
    object.insert("format_version".into(), json!(1));
    let read = Manifest::from_json(&value.to_string()).unwrap();
    assert_eq!(read.format_version, 1);
    assert_eq!((read.requests, read.cost), (RequestCounts::default(), Cost::default()));
    assert_eq!(read.labels, manifest().labels);
}

#[test]
fn a_newer_or_missing_format_version_is_refused_by_name() {
    let mut value = serde_json::to_value(manifest()).unwrap();
    // A future version that renamed a field: the version is what the error names.
    value["format_version"] = json!(MANIFEST_FORMAT_VERSION + 1);
    value.as_object_mut().unwrap().remove("labels");
    let err = Manifest::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(err, ManifestError::Newer { found: 3 }), "{err}");
    assert!(err.to_string().contains("upgrade genprompt"), "{err}");
    for bad in [json!(null), json!("2"), json!(0), json!(-1)] {
        value["format_version"] = bad.clone();
        let err = Manifest::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("is not a version number"), "{bad}: {err}");
    }
    value.as_object_mut().unwrap().remove("format_version");
    assert!(Manifest::from_json(&value.to_string()).unwrap_err().to_string().contains("no format_version"));
    assert!(matches!(Manifest::from_json("[1, 2"), Err(ManifestError::Malformed(_))));
}

#[test]
fn every_rejection_reason_counts_in_the_total() {
    // Set every field to a distinct power of two: a reason left out of `total` changes the sum.
    let fields = serde_json::to_value(RejectionCounts::default()).unwrap();
    let names: Vec<String> = fields.as_object().unwrap().keys().cloned().collect();
    let all: serde_json::Map<String, Value> =
        names.iter().enumerate().map(|(i, name)| (name.clone(), json!(1usize << i))).collect();
    let counts: RejectionCounts = serde_json::from_value(Value::Object(all)).unwrap();
    assert_eq!(counts.total(), (1 << names.len()) - 1, "{names:?}");
}

#[test]
fn short_labels_name_what_was_missing_and_why() {
    let mut labels = BTreeMap::new();
    let full = LabelCounts { requested: 4, kept: 4, llm_calls: 5, ..LabelCounts::default() };
    let mut short = LabelCounts { requested: 8, kept: 5, llm_calls: 32, ..LabelCounts::default() };
    short.rejected.chatter = 12;
    short.rejected.copies_parent = 9;
    short.rejected.refusal = 4;
    short.rejected.empty = 2;
    labels.insert("billing".to_string(), short);
    labels.insert("delivery".to_string(), full);
    let found = short_labels(&labels);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].to_string(),
        "billing: 5 of 8 rows from 32 calls (rejected: chatter 12, copies_parent 9, refusal 4)"
    );
    // A manifest from before the field reads as complete.
    let json = serde_json::json!({"short_labels": found});
    let back: Vec<ShortLabel> = serde_json::from_value(json["short_labels"].clone()).unwrap();
    assert_eq!(back, found);
}
