//! Outside code that breaks its contract (an encoder with too few rows, a session answering a
//! request it was never given, a method used before `start_label`) gets an error, not a panic.

use genprompt_llm::{ChatSession, Completed};

use super::*;
use crate::Schedule;

/// Embeds like the histogram encoder but drops the last row of every answer with two or more.
struct ShortEncoder(HistogramEncoder);

impl Encoder for ShortEncoder {
    fn identity(&self) -> &EncoderIdentity {
        self.0.identity()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        let keep = if texts.len() > 1 { &texts[..texts.len() - 1] } else { texts };
        self.0.encode(keep)
    }
}

#[test]
fn an_encoder_with_too_few_rows_is_an_error_on_both_schedules() {
    let (task, seeds) = task();
    let chat = ScriptedChat::new(vec![Ok("A brand new text {seed}")]);
    let encoder = ShortEncoder(encoder());
    let mut steady = small_config();
    steady.schedule = Schedule::Steady { window: 4 };
    for config in [small_config(), steady] {
        let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
        let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder, &()).unwrap_err();
        assert!(matches!(err, MethodError::EmbeddingShape { .. }), "{err}");
        assert!(err.to_string().contains("2 rows of dimension 16 for 3 texts"), "{err}");
    }
}

/// Answers like `ScriptedChat`, but labels its first result with an id it was never given.
struct WrongIds(ScriptedChat);

struct WrongIdsSession<'a>(&'a ScriptedChat, Vec<(u64, ChatRequest)>);

impl ChatModel for WrongIds {
    fn identity(&self) -> &ModelIdentity {
        self.0.identity()
    }
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.0.chat(requests)
    }
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(WrongIdsSession(&self.0, Vec::new()))
    }
}

impl ChatSession for WrongIdsSession<'_> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        self.1.push((id, request));
    }
    fn next(&mut self) -> Option<Completed> {
        let (id, request) = self.1.pop()?;
        let result = self.0.chat(&[request]).pop()?;
        Some((id + 1_000_000, result))
    }
    fn try_next(&mut self) -> Option<Completed> {
        None
    }
    fn pending(&self) -> usize {
        self.1.len()
    }
}

#[test]
fn a_session_returning_a_request_never_submitted_is_an_error() {
    let (task, seeds) = task();
    let chat = WrongIds(ScriptedChat::new(vec![Ok("A brand new text {seed}")]));
    let mut config = small_config();
    config.schedule = Schedule::Steady { window: 2 };
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap_err();
    assert!(matches!(err, MethodError::Contract(_)), "{err}");
    assert!(err.to_string().contains("which is not in flight"), "{err}");
    assert!(!err.is_bad_input(), "a broken backend is not the task's fault");
}

#[test]
fn genetic_used_before_start_label_drafts_nothing_and_refuses_rows() {
    let (task, _) = task();
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    assert!(method.next_batch(3, 0).is_empty());
    assert!(method.next_draft(0).is_none());
    let embeddings = Embeddings::from_flat(16, vec![0.25; 16]).unwrap();
    let err = method.kept(&[("gen:x:0".into(), "text".into())], &embeddings).unwrap_err();
    assert!(matches!(err, MethodError::Contract(_)), "{err}");
}
