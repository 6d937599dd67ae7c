//! The fuzz targets: one per parser of outside input.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use genprompt_core::RelationSpec;
use genprompt_data::{DataError, RowReader, load_task};
use genprompt_llm_http::parsers;
use genprompt_methods::{Cleaning, check_entity_tags, clean_reply};
use rand_chacha::ChaCha8Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::schema_gen;
use super::store::{CacheFile, JournalFile};

/// One parser under test.
pub trait Target {
    fn name(&self) -> &'static str;
    /// Valid inputs to start mutating from.
    fn seeds(&self) -> Vec<Vec<u8>>;
    /// Tokens of the input language, inserted by mutations.
    fn dictionary(&self) -> Vec<&'static str> {
        Vec::new()
    }
    fn max_len(&self) -> usize {
        16 << 10
    }
    /// Feeds one input; a panic (or a failed check) is a finding.
    fn run(&mut self, input: &[u8]);
    fn can_generate(&self) -> bool {
        false
    }
    /// A structured input; generators may check what they know the outcome must be.
    fn generate(&mut self, _rng: &mut ChaCha8Rng) -> Vec<u8> {
        Vec::new()
    }
}

pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(TaskFile::new()),
        Box::new(Jsonl),
        Box::new(JournalFile::new()),
        Box::new(CacheFile::new()),
        Box::new(ChatBody),
        Box::new(EmbeddingsBody),
        Box::new(Headers),
        Box::new(CleanReply),
        Box::new(schema_gen::SchemaCheck),
        Box::new(schema_gen::Gbnf),
    ]
}

/// A folder for targets that read files: tmpfs when there is one.
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = Path::new("/dev/shm");
    let base = if base.is_dir() { base.to_path_buf() } else { std::env::temp_dir() };
    let dir = base.join(format!("genprompt-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the scratch folder can be created");
    dir
}

const SEED_ROWS: &str = r#"{"text": "I was charged twice for order 4821.", "label": "billing"}
{"text": "Refund please, the invoice is wrong.", "label": "billing"}
{"text": "Where is my parcel? It has been nine days.", "label": "delivery"}
{"text": "The box arrived crushed.", "label": "delivery"}
{"text": "The app crashes when I open my basket.", "label": "technical"}
{"text": "I cannot log in since the update.", "label": "technical"}
"#;

/// `load_task` on a task file, next to a fixed seed file.
struct TaskFile {
    dir: PathBuf,
}

impl TaskFile {
    fn new() -> TaskFile {
        let dir = scratch_dir("task");
        std::fs::write(dir.join("seeds.jsonl"), SEED_ROWS).expect("scratch files can be written");
        TaskFile { dir }
    }
}

impl Drop for TaskFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Target for TaskFile {
    fn name(&self) -> &'static str {
        "task-file"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        // Every example task, pointed at the fixed seed file.
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut seeds = Vec::new();
        for entry in std::fs::read_dir(examples).into_iter().flatten().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("task.toml")) {
                let text: Vec<String> = text
                    .lines()
                    .map(|line| if line.starts_with("path = ") { "path = \"seeds.jsonl\"".into() } else { line.into() })
                    .collect();
                seeds.push(text.join("\n").into_bytes());
            }
        }
        seeds
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec![
            "[[labels]]\nname = \"billing\"\ndefinition = \"x\"\n",
            "[seeds]\n",
            "per_label = ",
            "kind = \"relation_extraction\"\n",
            "[relation]\ntags = [\"a\", \"b\"]\n",
            "[attributes]\n",
            "[attributes_per_label.billing]\n",
            "[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\n",
            "max_words = ",
            "genes = [\"a\", \"a\"]\n",
            "-9223372036854775808",
            "\"\"\"",
            "'''",
            "inf",
            "nan",
            " = ",
            "\"\"",
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let path = self.dir.join("task.toml");
        std::fs::write(&path, input).expect("scratch files can be written");
        match load_task(&path, None) {
            Ok(loaded) => {
                assert!(!loaded.task.labels().is_empty(), "a loaded task has labels");
                assert_eq!(loaded.seed_rows.len(), loaded.task.labels().len());
                assert!(loaded.seed_rows.iter().all(|rows| !rows.is_empty()), "every label has seed rows");
            }
            Err(err) => check_data_error(&err, &self.dir),
        }
    }
}

/// Every message names a file, and a line in it where the problem is in its content.
fn check_data_error(err: &DataError, dir: &Path) {
    let message = err.to_string();
    assert!(!message.is_empty());
    match err {
        DataError::Invalid { location, .. } => {
            assert!(location.line >= 1 && location.path.starts_with(dir), "{message}");
        }
        DataError::Many(errors) => errors.iter().for_each(|err| check_data_error(err, dir)),
        DataError::Io { .. } => {}
    }
}

/// `RowReader` over the input as a JSONL file.
struct Jsonl;

impl Target for Jsonl {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let rows = r#"{"text": "a", "label": "x", "id": 7, "meta": {"k": [1, 2]}}"#;
        vec![SEED_ROWS.as_bytes().to_vec(), format!("{rows}\r\n\n{rows}").into_bytes(), b"{}\n".to_vec()]
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec!["\"text\": ", "\"label\": ", "{\"text\": \"a\", \"label\": \"b\"}\n", "\"  \"", "\u{feff}"]
    }

    fn run(&mut self, input: &[u8]) {
        let path = Path::new("fuzz.jsonl");
        let mut last_line = 0;
        for item in RowReader::new(path, Cursor::new(input)) {
            match item {
                Ok((line, row)) => {
                    assert!(line > last_line, "line numbers rise");
                    last_line = line;
                    assert!(!row.text.trim().is_empty() && !row.label.trim().is_empty());
                }
                Err(err) => check_data_error(&err, Path::new("")),
            }
        }
    }
}

/// Chat completion and error bodies.
struct ChatBody;

impl Target for ChatBody {
    fn name(&self) -> &'static str {
        "chat-body"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            r#"{"id":"c","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
            r#"{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"length"}]}"#,
            r#"{"choices":[]}"#,
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
            r#"{"error":"model not found"}"#,
            r#"{"message":"bad request"}"#,
            "<html><body>502 Bad Gateway</body></html>",
        ]
        .map(|s| s.as_bytes().to_vec())
        .to_vec()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec!["\"choices\":", "\"message\":", "\"content\":", "\"usage\":", "\"finish_reason\":\"length\"", "4294967296"]
    }

    fn run(&mut self, input: &[u8]) {
        if let Ok(reply) = parsers::chat_body(input) {
            let _ = reply.text.len();
        }
        let (message, _) = parsers::error_body(input);
        assert!(!message.is_empty() && message.chars().count() <= 500, "{message}");
    }
}

/// `/v1/embeddings` bodies for one to three texts.
struct EmbeddingsBody;

impl Target for EmbeddingsBody {
    fn name(&self) -> &'static str {
        "embeddings-body"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2,0.3]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#,
            r#"{"data":[{"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}]}"#,
            r#"{"data":[{"embedding":[[1.0,2.0],[3.0,6.0]]},{"embedding":[1,2]},{"embedding":[3,4]}]}"#,
        ]
        .map(|s| s.as_bytes().to_vec())
        .to_vec()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec!["\"index\":", "\"embedding\":", "[[1.0],[2.0,3.0]]", "{\"embedding\":[]}", "3.4e39"]
    }

    fn run(&mut self, input: &[u8]) {
        let n = 1 + input.len() % 3;
        if let Ok((vectors, _)) = parsers::embeddings_body(input, n) {
            assert_eq!(vectors.len(), n, "one vector per text");
        }
    }
}

/// `Retry-After` and `x-ratelimit-*`: the input is header lines `name: value`.
struct Headers;

impl Target for Headers {
    fn name(&self) -> &'static str {
        "headers"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            "retry-after: 1\nx-ratelimit-limit-requests: 60\nx-ratelimit-remaining-requests: 0\nx-ratelimit-reset-requests: 1h2m3.5s",
            "retry-after: Wed, 21 Oct 2015 07:28:00 GMT\nx-ratelimit-reset-tokens: 6m0s\nx-ratelimit-remaining-tokens: 10.5",
            "retry-after-ms: 250\nretry-after: 3\nx-ratelimit-limit-tokens: 1000\nx-ratelimit-reset-tokens: 20ms",
            "x-ratelimit-reset-requests: 1us2ns3\u{b5}s",
        ]
        .map(|s| s.as_bytes().to_vec())
        .to_vec()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec![
            "retry-after: ",
            "retry-after-ms: ",
            "x-ratelimit-reset-",
            "requests: ",
            "tokens: ",
            "1h",
            "6m",
            "0.5s",
            "ms",
            "GMT",
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let mut headers = HeaderMap::new();
        for line in input.split(|b| *b == b'\n') {
            let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                headers.append(name, value);
            }
        }
        let most = Duration::from_secs(1_000_000_000);
        if let Some(wait) = parsers::retry_after(&headers, SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        {
            assert!(wait <= most, "{wait:?}");
        }
        for (limit, remaining, reset) in parsers::rate_limits(&headers).into_iter().flatten() {
            assert!(reset.is_none_or(|reset| reset <= most), "{reset:?}");
            let _ = (limit, remaining);
        }
    }
}

/// `clean_reply` in both modes and the entity-tag check; the input is `reply\0label\0text_kind`.
struct CleanReply;

impl Target for CleanReply {
    fn name(&self) -> &'static str {
        "clean-reply"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            "Here is a new customer message:\n\"Why was I billed twice?\"\0billing\0customer message",
            "Sure! Here's one:\nMy invoice is wrong.\nCategory: billing\0billing\0customer message",
            "\u{130}stanbul haberi:Derbi bitti.\0spor\0\u{130}stanbul haberi",
            "<chemical>Aspirin</chemical> inhibits <protein>COX-1</protein>.\0x\0sentence",
            "I'm sorry, but I can't help with that.\0x\0y",
        ]
        .map(|s| s.as_bytes().to_vec())
        .to_vec()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        vec![
            "Text:",
            "text:",
            "Category: ",
            "Example 3:",
            "New example:",
            "Here is",
            "<chemical>",
            "</chemical>",
            "<protein>",
            "</protein>",
            "\u{201c}",
            "\u{201d}",
            "'",
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        let mut parts = text.splitn(3, '\0');
        let (raw, label, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if let Ok(clean) = clean_reply(raw, Cleaning::Clean, label, kind) {
            assert!(clean.chars().any(char::is_alphanumeric), "{clean:?}");
            assert_eq!(clean.trim(), clean, "cleaned text is trimmed");
        }
        if let Ok(kept) = clean_reply(raw, Cleaning::Raw, label, kind) {
            assert_eq!(kept, raw.trim(), "raw mode keeps the text");
        }
        for tags in [["chemical", "protein"], ["entity", "entity"]] {
            let _ = check_entity_tags(raw, &RelationSpec { tags: tags.map(String::from) });
        }
    }
}
