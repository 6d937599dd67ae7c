//! Bad input: a clear message saying where, exit code 2, nothing written.

use crate::{TestContext, tiny_task};

fn check(context: &TestContext, args: &[&str], expected_stderr: &str) {
    let run = context.run(args).failure(2);
    let stderr = context.redact(&run.stderr());
    assert!(stderr.contains(expected_stderr), "expected {expected_stderr:?} in:\n{stderr}");
    assert!(!context.path("out").exists(), "nothing is written on bad input");
}

#[test]
fn bad_task_files_are_reported_with_file_line_and_column() {
    let context = TestContext::new();
    let task = tiny_task(&context);
    let text = std::fs::read_to_string(&task).unwrap();
    let generate = ["generate", "--task", "task.toml", "-n", "2", "--out", "out"];

    context.write("task.toml", &text.replace("per_label = 3", "per_label = 3\nshuffle = true"));
    check(&context, &generate, "error: task.toml:10:1: unknown field `shuffle`");

    context.write("task.toml", &text.replace("name = \"politics\"", "name = \"sports\""));
    check(&context, &generate, "error: task.toml:20:8: duplicate label \"sports\"");

    context.write("task.toml", &text.replace("seeds.jsonl", "missing.jsonl"));
    check(&context, &generate, "error: task.toml:8:8: seed file missing.jsonl does not exist");

    context.write("task.toml", &text);
    context.write(
        "bad-seeds.jsonl",
        "{\"text\": \"a\", \"label\": \"sports\"}\n{\"text\": \"b\", \"label\": \"weather\"}\n",
    );
    let with_examples = ["generate", "--task", "task.toml", "-n", "2", "--out", "out", "--examples", "bad-seeds.jsonl"];
    check(&context, &with_examples, "bad-seeds.jsonl:2: label \"weather\" is not declared in the task file");

    context.write(
        "one-seed.jsonl",
        "{\"text\": \"a\", \"label\": \"sports\"}\n{\"text\": \"b\", \"label\": \"politics\"}\n",
    );
    let with_examples = ["generate", "--task", "task.toml", "-n", "2", "--out", "out", "--examples", "one-seed.jsonl"];
    check(&context, &with_examples, "label \"sports\" has 1 seed row(s); Genetic Prompt needs at least 2");
}

#[test]
fn malformed_jsonl_names_file_and_line() {
    let context = TestContext::new();
    context.write("train.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"\n");
    context.write("test.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n");
    check(&context, &["eval", "--train", "train.jsonl", "--test", "test.jsonl", "--out", "out"], "train.jsonl:2:");
    context.write("train.jsonl", "{\"text\": \"\", \"label\": \"x\"}\n");
    check(
        &context,
        &["eval", "--train", "train.jsonl", "--test", "test.jsonl", "--out", "out"],
        "train.jsonl:1: empty \"text\"",
    );
}

#[test]
fn invalid_utf8_in_a_jsonl_file_or_the_task_file_names_file_and_line() {
    let context = TestContext::new();
    tiny_task(&context);
    let eval = ["eval", "--train", "train.jsonl", "--test", "test.jsonl", "--out", "out"];
    let path = context.write("train.jsonl", "{\"text\": \"a\", \"label\": \"sports\"}\n");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"text\": \"caf\xe9\", \"label\": \"sports\"}\n");
    std::fs::write(&path, bytes).unwrap();
    check(&context, &eval, "train.jsonl:2:14: invalid UTF-8 (byte 0xe9); save the file as UTF-8");

    let mut task = std::fs::read(context.path("task.toml")).unwrap();
    task.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(context.path("task.toml"), task).unwrap();
    check(
        &context,
        &["generate", "--task", "task.toml", "-n", "2", "--out", "out"],
        "invalid UTF-8; save the task file",
    );
}

#[test]
fn finetuning_with_an_embeddings_endpoint_is_refused() {
    // The fine-tuned encoder is the local MiniLM; metrics.json would name the endpoint's model.
    let context = TestContext::new();
    tiny_task(&context);
    let args = ["eval", "--train", "seeds.jsonl", "--test", "test.jsonl", "--classifier", "finetune"];
    let mut args = args.to_vec();
    args.extend(["--encoder-base-url", "http://127.0.0.1:9/v1", "--encoder-model", "m", "--out", "out"]);
    check(&context, &args, "--classifier finetune cannot fine-tune an --encoder-base-url endpoint");
}

#[test]
fn missing_model_files_given_by_path_are_bad_input() {
    let context = TestContext::new();
    tiny_task(&context);
    let args = ["generate", "--task", "task.toml", "-n", "1", "--out", "out", "--llm", "nope.gguf"];
    check(&context, &args, "cannot load model nope.gguf: no such file");
}

#[test]
fn usage_errors_exit_with_2_and_help_works_everywhere() {
    let context = TestContext::new();
    context.run(&["generate"]).failure(2);
    for command in ["models", "quickstart", "embed", "genes", "attributes", "generate", "eval", "compare"] {
        let run = context.run(&[command, "--help"]).success();
        assert!(run.stdout().contains("Usage: genprompt"), "{command}");
    }
}

/// The README's command list names every value of `--method` and `--mix`, as `--help` lists them.
#[test]
fn the_readme_command_list_names_every_method_and_mix() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let commands = readme.split("## Commands").nth(1).and_then(|s| s.split("```").nth(1)).expect("a command block");
    let context = TestContext::new();
    for (command, flag) in [("generate", "--method"), ("eval", "--mix")] {
        let help = context.run(&[command, "--help"]).success().stdout();
        let values: Vec<&str> = help
            .split(&format!("{flag} <"))
            .nth(1)
            .and_then(|s| s.split("Possible values:").nth(1))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .map(str::trim)
            .take_while(|line| line.starts_with("- "))
            .filter_map(|line| line[2..].split(':').next())
            .collect();
        assert!(values.len() >= 4, "{command} {flag}: {values:?}");
        let line = commands.lines().find(|l| l.contains(&format!("{flag} "))).expect("the flag is in the list");
        let listed: Vec<&str> =
            line.split(&format!("{flag} ")).nth(1).unwrap().split([' ', ']']).next().unwrap().split('|').collect();
        for value in values {
            assert!(listed.contains(&value), "README's `{flag}` list lacks {value}: {listed:?}");
        }
    }
}
