use std::path::PathBuf;

use super::*;

const GOOD: &str = r#"name = "support"
kind = "classification"
domain = "customer support routing"
text_kind = "customer message"
genes = ["length", "tone"]

[seeds]
path = "seeds.jsonl"
per_label = 2

[[labels]]
name = "billing"
definition = "charges and refunds"

[[labels]]
name = "delivery"
definition = "parcels and shipping"
"#;

const SEEDS: &str = r#"{"text": "I was charged twice", "label": "billing"}
{"text": "Where is my parcel?", "label": "delivery"}

{"text": "Refund please", "label": "billing", "source": "kept"}
{"text": "Third billing row beyond per_label", "label": "billing"}
"#;

/// Writes a task file and a seed file into a fresh folder and loads the task.
fn check(task_toml: &str, seeds: &str) -> (Result<LoadedTask, DataError>, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let task_path = dir.path().join("task.toml");
    std::fs::write(&task_path, task_toml).unwrap();
    std::fs::write(dir.path().join("seeds.jsonl"), seeds).unwrap();
    (load_task(&task_path, None), task_path, dir)
}

/// Loads a broken task and returns its error message with the temp folder replaced by `DIR`.
fn check_error(task_toml: &str, seeds: &str) -> String {
    let (result, _, dir) = check(task_toml, seeds);
    let err = result.expect_err("the task should be rejected");
    assert!(err.is_bad_input(), "{err} should count as bad input");
    err.to_string().replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn good_task_resolves_labels_genes_and_first_seed_rows_per_label() {
    let (result, _, _dir) = check(GOOD, SEEDS);
    let loaded = result.unwrap();
    assert_eq!(loaded.task.name, "support");
    assert_eq!(loaded.task.labels().len(), 2);
    assert_eq!(loaded.task.genes.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["length", "tone"]);
    let billing: Vec<(usize, &str)> = loaded.seed_rows[0].iter().map(|s| (s.line, s.text.as_str())).collect();
    assert_eq!(billing, [(1, "I was charged twice"), (4, "Refund please")]);
    assert_eq!(loaded.seed_rows[1].len(), 1);
    assert_eq!(loaded.task_file_sha256.len(), 64);
}

#[test]
fn unknown_key_is_located() {
    let err = check_error(&GOOD.replace("genes =", "colour = \"red\"\ngenes ="), SEEDS);
    assert!(err.starts_with("DIR/task.toml:5:1: unknown field `colour`"), "{err}");
}

#[test]
fn syntax_error_is_located() {
    let err = check_error(&GOOD.replace("name = \"support\"", "name = support"), SEEDS);
    assert!(err.starts_with("DIR/task.toml:1:8: "), "{err}");
}

#[test]
fn missing_field_is_reported() {
    let err = check_error(&GOOD.replace("domain = \"customer support routing\"\n", ""), SEEDS);
    assert!(err.contains("missing field `domain`"), "{err}");
}

#[test]
fn duplicate_label_is_located_at_the_second_name() {
    let toml = format!("{GOOD}\n[[labels]]\nname = \"billing\"\ndefinition = \"again\"\n");
    let err = check_error(&toml, SEEDS);
    assert_eq!(err, "DIR/task.toml:20:8: duplicate label \"billing\"");
}

#[test]
fn empty_label_name_is_located() {
    let err = check_error(&GOOD.replace("name = \"delivery\"", "name = \"  \""), SEEDS);
    assert_eq!(err, "DIR/task.toml:16:8: label name is empty");
}

#[test]
fn no_labels_is_an_error() {
    let toml = "name = \"t\"\nkind = \"classification\"\ndomain = \"d\"\ntext_kind = \"k\"\nlabels = []\n[seeds]\npath = \"seeds.jsonl\"\n";
    let err = check_error(toml, SEEDS);
    assert_eq!(err, "DIR/task.toml:5:10: no labels; add at least one [[labels]] table");
}

#[test]
fn missing_seed_file_is_located_at_the_path() {
    let err = check_error(&GOOD.replace("seeds.jsonl", "nope.jsonl"), SEEDS);
    assert_eq!(err, "DIR/task.toml:8:8: seed file DIR/nope.jsonl does not exist");
}

#[test]
fn undeclared_seed_label_names_the_seed_file_line() {
    let seeds = format!("{SEEDS}{{\"text\": \"hello\", \"label\": \"spam\"}}\n");
    let err = check_error(GOOD, &seeds);
    assert_eq!(err, "DIR/seeds.jsonl:6: label \"spam\" is not declared in the task file");
}

#[test]
fn label_without_seed_rows_is_located_at_the_label() {
    let seeds = SEEDS.replace("\"delivery\"", "\"billing\"");
    let err = check_error(GOOD, &seeds);
    assert_eq!(err, "DIR/task.toml:16:8: label \"delivery\" has no seed rows in DIR/seeds.jsonl");
}

#[test]
fn several_problems_are_reported_together() {
    let toml = GOOD
        .replace("name = \"delivery\"", "name = \"billing\"")
        .replace("genes = [\"length\", \"tone\"]", "genes = [\"tone\", \"tone\"]");
    let err = check_error(&toml, SEEDS);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("duplicate gene \"tone\""), "{err}");
    assert!(err.contains("duplicate label \"billing\""), "{err}");
}

#[test]
fn unknown_kind_and_bad_per_label_are_located() {
    let toml = GOOD.replace("\"classification\"", "\"regression\"").replace("per_label = 2", "per_label = 0");
    let err = check_error(&toml, SEEDS);
    assert!(err.contains("DIR/task.toml:2:8: unknown kind \"regression\""), "{err}");
    assert!(err.contains("DIR/task.toml:9:13: `per_label` must be at least 1, got 0"), "{err}");
}

#[test]
fn malformed_seed_row_names_file_and_line() {
    let seeds = format!("{SEEDS}not json\n");
    let err = check_error(GOOD, &seeds);
    assert!(err.starts_with("DIR/seeds.jsonl:6:"), "{err}");
    assert!(err.contains("malformed row"), "{err}");
}

#[test]
fn seed_override_replaces_the_task_files_path() {
    let dir = tempfile::tempdir().unwrap();
    let task_path = dir.path().join("task.toml");
    std::fs::write(&task_path, GOOD.replace("seeds.jsonl", "absent.jsonl")).unwrap();
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, SEEDS).unwrap();
    let loaded = load_task(&task_path, Some(&other)).unwrap();
    assert_eq!(loaded.task.seeds.path, other);
}

const RELATION: &str = r#"name = "chem"
kind = "relation_extraction"
domain = "Protein Chemical Relation extraction"
text_kind = "sentence"
genes = ["length", "voice"]
context = "Suppose you are a biomedical researcher."
max_words = 40

[seeds]
path = "seeds.jsonl"

[relation]
tags = ["chemical", "protein"]

[attributes]
voice = ["active", "passive"]
length = ["short", "long"]

[attributes_per_label.billing]
voice = ["passive"]

[[labels]]
name = "billing"
definition = "x"

[[labels]]
name = "delivery"
definition = "y"
"#;

#[test]
fn relation_task_with_context_word_limit_and_attributes() {
    let (result, _, _dir) = check(RELATION, SEEDS);
    let task = result.unwrap().task;
    assert_eq!(task.kind, TaskKind::RelationExtraction);
    assert_eq!(task.relation.unwrap().tags, ["chemical".to_string(), "protein".to_string()]);
    assert_eq!(task.context.as_deref(), Some("Suppose you are a biomedical researcher."));
    assert_eq!(task.max_words, Some(40));
    assert_eq!(task.attributes.values("billing", "voice").unwrap(), ["passive"]);
    assert_eq!(task.attributes.values("delivery", "voice").unwrap(), ["active", "passive"]);
    assert_eq!(task.attributes.names(), ["length", "voice"]);
}

#[test]
fn relation_table_problems_are_located() {
    let err = check_error(&RELATION.replace("[relation]\ntags = [\"chemical\", \"protein\"]\n", ""), SEEDS);
    assert!(err.contains("DIR/task.toml:2:8: relation_extraction tasks need a [relation] table"), "{err}");
    let err = check_error(&RELATION.replace("[\"chemical\", \"protein\"]", "[\"chemical\"]"), SEEDS);
    assert!(err.contains("DIR/task.toml:13:8: `tags` needs exactly 2 entity tags, got 1"), "{err}");
    let err = check_error(&RELATION.replace("\"protein\"]", "\"<protein>\"]"), SEEDS);
    assert!(err.contains("entity tag \"<protein>\" must be letters"), "{err}");
    let err = check_error(&GOOD.replace("[seeds]", "[relation]\ntags = [\"a\", \"b\"]\n\n[seeds]"), SEEDS);
    assert!(err.contains("[relation] only applies to kind = \"relation_extraction\""), "{err}");
}

#[test]
fn attribute_problems_are_located() {
    let err = check_error(&RELATION.replace("attributes_per_label.billing", "attributes_per_label.spam"), SEEDS);
    assert!(err.contains("label \"spam\" is not declared"), "{err}");
    let err = check_error(&RELATION.replace("length = [\"short\", \"long\"]", "length = []"), SEEDS);
    assert!(err.contains("DIR/task.toml:17:10: attribute \"length\" has no values"), "{err}");
    let err = check_error(&RELATION.replace("max_words = 40", "max_words = 0"), SEEDS);
    assert!(err.contains("DIR/task.toml:7:13: `max_words` must be at least 1, got 0"), "{err}");
}

#[test]
fn a_task_without_seed_path_needs_examples() {
    let toml = GOOD.replace("path = \"seeds.jsonl\"\n", "");
    let err = check_error(&toml, SEEDS);
    assert_eq!(err, "DIR/task.toml:7:1: no seed rows: set `path` under [seeds] or pass --examples FILE");
    let dir = tempfile::tempdir().unwrap();
    let task_path = dir.path().join("task.toml");
    std::fs::write(&task_path, toml).unwrap();
    let seeds = dir.path().join("rows.jsonl");
    std::fs::write(&seeds, SEEDS).unwrap();
    assert_eq!(load_task(&task_path, Some(&seeds)).unwrap().seed_rows[0].len(), 2);
}

#[test]
fn llm_table_is_read_and_checked() {
    let with_llm = format!(
        "{GOOD}\n[llm]\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"qwen\"\napi_key_env = \"MY_KEY\"\nmax_in_flight = 64\nrequests_per_minute = 500\ntimeout_s = 30.0\nprice_input_per_million = 0.15\nprice_output_per_million = 0.6\n"
    );
    let (result, _, _dir) = check(&with_llm, SEEDS);
    let llm = result.unwrap().llm.unwrap();
    assert_eq!(llm.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"));
    assert_eq!((llm.model.as_deref(), llm.api_key_env.as_deref()), (Some("qwen"), Some("MY_KEY")));
    assert_eq!((llm.max_in_flight, llm.requests_per_minute, llm.timeout_s), (Some(64), Some(500), Some(30.0)));
    assert_eq!((llm.price_input_per_million, llm.price_output_per_million), (Some(0.15), Some(0.6)));
    let (result, _, _dir) = check(GOOD, SEEDS);
    assert_eq!(result.unwrap().llm, None);
}

#[test]
fn llm_table_problems_are_located_and_keys_never_echoed() {
    let bad = format!(
        "{GOOD}\n[llm]\nbase_url = \"127.0.0.1:8080\"\napi_key = \"sk-secret-value\"\napi_key_env = \"sk-abc def\"\nmax_in_flight = 0\nprice_output_per_million = -1.0\n"
    );
    let err = check_error(&bad, SEEDS);
    assert!(err.contains("DIR/task.toml:20:12: base_url must start with http:// or https://"), "{err}");
    assert!(err.contains("DIR/task.toml:21:11: API keys do not belong in task files"), "{err}");
    assert!(err.contains("DIR/task.toml:22:15: api_key_env names an environment variable"), "{err}");
    assert!(err.contains("DIR/task.toml:23:17: max_in_flight must be a positive whole number, got 0"), "{err}");
    assert!(
        err.contains("DIR/task.toml:24:28: price_output_per_million must be a non-negative number, got -1"),
        "{err}"
    );
    assert!(!err.contains("sk-secret-value"), "{err}");
    let unknown = check_error(&format!("{GOOD}\n[llm]\nmodle = \"x\"\n"), SEEDS);
    assert!(unknown.contains("unknown field `modle`"), "{unknown}");
}

#[test]
fn llm_table_takes_several_endpoints() {
    let fleet = format!("{GOOD}\n[llm]\nbase_urls = [\"http://10.0.0.1:8000/v1\", \"http://10.0.0.2:8000/v1\"]\n");
    let (result, _, _dir) = check(&fleet, SEEDS);
    let llm = result.unwrap().llm.unwrap();
    assert_eq!(llm.base_urls, ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]);
    assert_eq!(llm.base_url, None);
    let both = format!("{GOOD}\n[llm]\nbase_url = \"http://a/v1\"\nbase_urls = [\"http://b/v1\", \"c:80\"]\n");
    let err = check_error(&both, SEEDS);
    assert!(err.contains("DIR/task.toml:21:13: give either base_url or base_urls, not both"), "{err}");
    assert!(err.contains("every base_urls entry must start with http:// or https://, got \"c:80\""), "{err}");
    let empty = check_error(&format!("{GOOD}\n[llm]\nbase_urls = []\n"), SEEDS);
    assert!(empty.contains("base_urls must list at least one URL"), "{empty}");
}

#[test]
fn invalid_utf8_in_the_task_file_names_its_line_and_is_bad_input() {
    let mut bytes = GOOD.as_bytes().to_vec();
    let at = GOOD.find("charges").unwrap();
    bytes[at] = 0xff;
    let dir = tempfile::tempdir().unwrap();
    let task_path = dir.path().join("task.toml");
    std::fs::write(&task_path, bytes).unwrap();
    std::fs::write(dir.path().join("seeds.jsonl"), SEEDS).unwrap();
    let err = load_task(&task_path, None).unwrap_err();
    assert!(err.is_bad_input(), "{err:?}");
    assert_eq!(err.to_string(), format!("{}:13:15: invalid UTF-8; save the task file as UTF-8", task_path.display()));
}
