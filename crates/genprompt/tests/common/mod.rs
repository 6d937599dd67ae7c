//! A tiny two-label task written into a temporary folder, shared by the API tests.

use std::path::{Path, PathBuf};

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

pub const SEEDS: &str = r#"{"text": "The striker scored twice in the final minutes of the derby.", "label": "sports"}
{"text": "Parliament passed the budget after a long night of debate.", "label": "politics"}
{"text": "The tennis champion retired after her third title this season.", "label": "sports"}
{"text": "The minister resigned after the election results came in.", "label": "politics"}
{"text": "Our relay team broke the national record at the indoor games.", "label": "sports"}
{"text": "Senators agreed on a new law to fund public hospitals.", "label": "politics"}
"#;

pub const TEST: &str = r#"{"text": "The goalkeeper saved a penalty in the cup semi-final.", "label": "sports"}
{"text": "The president vetoed the tax bill on Friday.", "label": "politics"}
{"text": "She won the marathon in record time.", "label": "sports"}
{"text": "Voters head to the polls for the regional election.", "label": "politics"}
"#;

pub const TASK: &str = r#"name = "tiny-news"
kind = "classification"
domain = "news topic classification"
text_kind = "news sentence"
genes = ["length", "style", "subtopic"]

[seeds]
path = "seeds.jsonl"
per_label = 3

[attributes]
length = ["short", "long"]
style = ["plain", "dramatic"]

[[labels]]
name = "sports"
definition = "news about sport events, athletes and teams"

[[labels]]
name = "politics"
definition = "news about governments, elections and laws"
"#;

/// Writes the task, its seed rows and test rows; returns the task file.
pub fn tiny_task(dir: &Path) -> PathBuf {
    write(dir, "seeds.jsonl", SEEDS);
    write(dir, "test.jsonl", TEST);
    write(dir, "task.toml", TASK)
}
