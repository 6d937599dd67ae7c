//! Every shipped example task loads and validates (seed rows are given at run time, so each gets a
//! small fixture with two rows per declared label).

use std::path::Path;

#[test]
fn every_example_task_loads() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n_tasks = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let task_path = entry.unwrap().path().join("task.toml");
        if !task_path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&task_path).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", task_path.display()));
        let relation = value.get("relation").is_some();
        let dir = tempfile::tempdir().unwrap();
        let seeds = dir.path().join("seeds.jsonl");
        let mut rows = String::new();
        for label in value["labels"].as_array().unwrap() {
            let name = label["name"].as_str().unwrap();
            for idx in 0..2 {
                let text = if relation { format!("<e1>a{idx}</e1> and <e2>b</e2>") } else { format!("text {idx}") };
                rows.push_str(&serde_json::json!({"text": text, "label": name}).to_string());
                rows.push('\n');
            }
        }
        std::fs::write(&seeds, rows).unwrap();
        let loaded = genprompt_data::load_task(&task_path, Some(&seeds))
            .unwrap_or_else(|err| panic!("{} does not load:\n{err}", task_path.display()));
        assert!(!loaded.task.genes.is_empty(), "{}: no genes", task_path.display());
        assert!(!loaded.task.attributes.is_empty(), "{}: no [attributes] for AttrPrompt", task_path.display());
        assert_eq!(loaded.task.relation.is_some(), relation);
        n_tasks += 1;
    }
    assert!(n_tasks >= 18, "found only {n_tasks} example tasks");
}
