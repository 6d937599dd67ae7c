//! End-to-end tests: run the real `genprompt` binary in a fresh folder.
//!
//! Tests that generate or embed use real models, fetched once with `genprompt models fetch
//! smollm2-135m all-minilm-l6-v2` (`./x test` does it); without them they fail with a message
//! naming that command. They run SmolLM2-135M, not the default generator: they prove the
//! pipeline, not the quality of its rows.

mod determinism;
mod endpoint;
mod errors;
mod methods;
mod pipeline;
mod resume;
mod steady;
mod subjectivity;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder with helpers to write inputs and run the binary inside it.
pub struct TestContext {
    dir: tempfile::TempDir,
}

impl Default for TestContext {
    fn default() -> TestContext {
        TestContext::new()
    }
}

impl TestContext {
    pub fn new() -> TestContext {
        TestContext { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|err| panic!("cannot read {name}: {err}"))
    }

    /// Runs `genprompt args...` in the folder, with progress bars off.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Like `run`, with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = self.command(args).envs(env.iter().copied()).output().expect("the genprompt binary runs");
        Run { args: args.iter().map(|a| a.to_string()).collect(), output }
    }

    /// `genprompt args...` ready to run in the folder: progress bars off, no endpoint or log
    /// settings inherited, and a response cache of this context's own.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_genprompt"));
        command
            .args(args)
            .env_remove("OPENAI_BASE_URL")
            // Each test context has its own response cache, so tests never answer each other.
            .env("GENPROMPT_CACHE_DIR", self.dir.path().join("response-cache"))
            // These tests prove the pipeline, so they run the smallest model (SmolLM2-135M) by
            // default rather than the default generator; its rows are mostly off-task.
            .env("GENPROMPT_LLM", "smollm2-135m")
            .arg("--no-progress")
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("GENPROMPT_LOG");
        command
    }

    /// Replaces the temp folder in `text` by `DIR`, so messages can be compared exactly.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "DIR")
    }
}

pub struct Run {
    args: Vec<String>,
    output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Panics with the whole output unless the command succeeded.
    pub fn success(self) -> Run {
        assert!(
            self.output.status.success(),
            "genprompt {} failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Panics unless the command failed with `code`.
    pub fn failure(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "genprompt {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A small two-label task with hand-written seed and test rows.
/// The project's fault-injecting test server, answering distinct made-up sentences: its plain
/// `reply to {prompt}` echoes the prompt, which the cleaning rightly rejects.
pub fn fault_server() -> genprompt_llm_http::testing::FaultServer {
    let server = genprompt_llm_http::testing::FaultServer::start();
    server.set_varied_replies(true);
    server
}

pub fn tiny_task(context: &TestContext) -> PathBuf {
    context.write(
        "seeds.jsonl",
        r#"{"text": "The striker scored twice in the final minutes of the derby.", "label": "sports"}
{"text": "Parliament passed the budget after a long night of debate.", "label": "politics"}
{"text": "The tennis champion retired after her third title this season.", "label": "sports"}
{"text": "The minister resigned after the election results came in.", "label": "politics"}
{"text": "Our relay team broke the national record at the indoor games.", "label": "sports"}
{"text": "Senators agreed on a new law to fund public hospitals.", "label": "politics"}
"#,
    );
    context.write(
        "test.jsonl",
        r#"{"text": "The goalkeeper saved a penalty in the cup semi-final.", "label": "sports"}
{"text": "The president vetoed the tax bill on Friday.", "label": "politics"}
{"text": "She won the marathon in record time.", "label": "sports"}
{"text": "Voters head to the polls for the regional election.", "label": "politics"}
"#,
    );
    context.write(
        "task.toml",
        r#"name = "tiny-news"
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
"#,
    )
}

/// A Python with Hugging Face `datasets`: GENPROMPT_TEST_PYTHON, else the venv that `./x test`
/// creates in target/py-venv. Missing, the test fails and says how to get it.
pub fn hf_python() -> PathBuf {
    let python = std::env::var_os("GENPROMPT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: run `./x test` (it installs the Python `datasets` package into target/py-venv) \
or set GENPROMPT_TEST_PYTHON",
        python.display()
    );
    python
}

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
