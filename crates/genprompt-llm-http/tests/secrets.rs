//! The API key reaches the server in the `Authorization` header and nowhere else: not in logs
//! (every level, including reqwest's own), errors, or Debug output. Its own test binary, because it
//! installs the process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use genprompt_llm::ChatModel;
use genprompt_llm_http::testing::{Fault, FaultServer, fast_config, key, request};
use genprompt_llm_http::{HttpChatModel, HttpConfig};

const KEY: &str = "sk-test-5f2b8e1c9d4a7b3e";
const KEY_ENV: &str = "GENPROMPT_HTTP_SECRETS_TEST_KEY";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_api_key_appears_only_in_the_authorization_header() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this binary installs the only subscriber");
    // SAFETY: the only test in this binary; no other thread reads the environment now.
    unsafe { std::env::set_var(KEY_ENV, KEY) };

    let server = FaultServer::start();
    server.script(&key(0), [Fault::RateLimited(Some("0".to_string())), Fault::status(500)]);
    server.script(&key(1), [Fault::Reset]);
    server.script(&key(2), [Fault::Unauthorized]);
    server.script(&key(3), [Fault::Status(400, format!("bad request from {KEY}"))]);
    server.script(&key(4), [Fault::InvalidJson]);
    let config = fast_config(&server.base_url()).with_api_key_env(Some(KEY_ENV)).unwrap();
    let model = HttpChatModel::new(config.clone()).unwrap();
    let results = model.chat(&(0..6).map(request).collect::<Vec<_>>());

    assert!(results[0].is_ok() && results[1].is_ok() && results[4].is_ok() && results[5].is_ok());
    let unauthorized = results[2].as_ref().unwrap_err().to_string();
    assert!(unauthorized.contains("Incorrect API key provided: ***"), "{unauthorized}");
    assert!(results[3].as_ref().unwrap_err().to_string().contains("bad request from ***"));
    for hit in server.hits() {
        assert_eq!(hit.authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()), "{}", hit.key);
    }

    let broken = HttpChatModel::new(HttpConfig { max_in_flight: 0, ..config.clone() }).unwrap_err();
    let mut shown = format!("{config:?}\n{model:?}\n{:?}\n{results:?}\n{broken:?}\n{broken}\n", model.stats());
    for result in &results {
        if let Err(err) = result {
            shown.push_str(&format!("{err}\n"));
        }
    }
    shown.push_str(&format!("{} {:?}\n", config.api_key.as_ref().unwrap(), config.api_key));
    drop(model);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying a request"), "the capture works:\n{logs}");
    assert!(!shown.contains(KEY), "the key leaked into Debug or an error:\n{shown}");
    assert!(!logs.contains(KEY), "the key leaked into the logs:\n{logs}");
}
