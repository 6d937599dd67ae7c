//! One test per fault: every batch ends with one result per request, in order; faults are retried
//! a bounded number of times (counted at the server) and show up in the stats.

use std::time::Duration;

use genprompt_llm::{ChatModel, FinishReason};
use genprompt_llm_http::testing::{Fault, FaultServer, REFUSAL, key};

use crate::{batch, err, model, ok};

#[test]
fn a_clean_batch_comes_back_in_order_with_only_standard_fields_sent() {
    let server = FaultServer::start();
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..20));
    assert_eq!(results.len(), 20);
    for i in 0..20 {
        let reply = ok(&results, i);
        assert_eq!(reply.text, format!("reply to {}", key(i)));
        assert_eq!((reply.finish, reply.usage.completion_tokens), (FinishReason::Stop, 4));
    }
    assert_eq!(server.hits().len(), 20);
    let body = &server.hits_for(&key(3))[0].body;
    let fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["model", "messages", "temperature", "top_p", "max_tokens", "stop", "seed"]);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1], serde_json::json!({"role": "user", "content": "request 3"}));
    assert_eq!((body["temperature"].as_f64(), body["top_p"].as_f64()), (Some(0.7), Some(0.9)));
    assert_eq!((body["max_tokens"].as_u64(), body["seed"].as_u64()), (Some(64), Some(3)));
    assert_eq!(body["stop"], serde_json::json!(["\n\n"]));
    assert_eq!(server.hits()[0].authorization, None, "no key configured, no header");
    let stats = model.stats();
    assert_eq!((stats.requests, stats.attempts, stats.retries, stats.failed), (20, 20, 0, 0));
    assert_eq!(stats.current_concurrency, 8);
    assert!(stats.prompt_tokens > 0 && stats.completion_tokens == 80, "{stats:?}");
}

#[test]
fn rate_limited_requests_are_retried_and_counted() {
    let server = FaultServer::start();
    server.script(&key(1), [Fault::RateLimited(None)]);
    server.script(&key(4), [Fault::RateLimited(None)]);
    server.script(&key(7), [Fault::RateLimited(None), Fault::RateLimited(None)]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..10));
    for i in 0..10 {
        assert_eq!(ok(&results, i).text, format!("reply to {}", key(i)));
    }
    assert_eq!(server.hits_for(&key(1)).len(), 2);
    assert_eq!(server.hits_for(&key(7)).len(), 3);
    assert_eq!(server.hits().len(), 14);
    let stats = model.stats();
    assert_eq!((stats.rate_limited, stats.retries, stats.attempts, stats.failed), (4, 4, 14, 0));
    assert!(stats.current_concurrency < 8, "a 429 halves the limit: {stats:?}");
}

#[test]
fn server_errors_are_retried() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::status(500)]);
    server.script(&key(2), [Fault::status(503), Fault::status(502)]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..4));
    assert!((0..4).all(|i| ok(&results, i).text == format!("reply to {}", key(i))));
    assert_eq!((server.hits_for(&key(0)).len(), server.hits_for(&key(2)).len()), (2, 3));
    let stats = model.stats();
    assert_eq!((stats.server_errors, stats.retries, stats.failed), (3, 3, 0));
}

#[test]
fn a_reply_slower_than_the_timeout_is_abandoned_and_retried() {
    let server = FaultServer::start();
    server.script(&key(1), [Fault::Slow(Duration::from_secs(3))]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..3));
    assert!((0..3).all(|i| ok(&results, i).text == format!("reply to {}", key(i))));
    assert_eq!(server.hits_for(&key(1)).len(), 2);
    let stats = model.stats();
    assert_eq!((stats.timeouts, stats.retries, stats.failed), (1, 1, 0));
}

#[test]
fn a_dropped_connection_is_retried() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::Reset]);
    server.script(&key(3), [Fault::Reset, Fault::Reset]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..5));
    assert!((0..5).all(|i| ok(&results, i).text == format!("reply to {}", key(i))));
    assert_eq!((server.hits_for(&key(0)).len(), server.hits_for(&key(3)).len()), (2, 3));
    let stats = model.stats();
    assert_eq!((stats.connection_errors, stats.retries, stats.failed), (3, 3, 0));
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = genprompt_llm_http::testing::fast_config(&format!("http://127.0.0.1:{port}/v1"));
    let model =
        genprompt_llm_http::HttpChatModel::new(genprompt_llm_http::HttpConfig { max_retries: 2, ..config }).unwrap();
    let results = model.chat(&batch(0..2));
    assert_eq!(results.len(), 2);
    let message = err(&results, 0);
    assert!(message.contains("gave up after 3 tries") && message.contains("connection"), "{message}");
    let stats = model.stats();
    assert_eq!((stats.connection_errors, stats.attempts, stats.failed), (6, 6, 2));
}

#[test]
fn unusable_bodies_are_retried() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::InvalidJson]);
    server.script(&key(1), [Fault::EmptyBody]);
    server.script(&key(2), [Fault::EmptyChoices]);
    server.script(&key(3), [Fault::InvalidJson, Fault::EmptyChoices]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..5));
    assert!((0..5).all(|i| ok(&results, i).text == format!("reply to {}", key(i))));
    assert_eq!(server.hits_for(&key(3)).len(), 3);
    let stats = model.stats();
    assert_eq!((stats.invalid_responses, stats.retries, stats.failed), (5, 5, 0));
}

#[test]
fn refusals_and_truncated_replies_are_answers_not_errors() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::Refusal]);
    server.script(&key(1), [Fault::Length]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..3));
    assert_eq!((ok(&results, 0).text.as_str(), ok(&results, 0).finish), (REFUSAL, FinishReason::Stop));
    assert_eq!(ok(&results, 1).finish, FinishReason::Length);
    assert_eq!(server.hits().len(), 3, "no retries: these are the model's answers");
    let stats = model.stats();
    assert_eq!((stats.truncated, stats.retries), (1, 0));
}

#[test]
fn retries_are_bounded() {
    let server = FaultServer::start();
    server.script(&key(1), vec![Fault::status(500); 10]);
    server.script(&key(2), vec![Fault::Reset; 10]);
    server.script(&key(3), vec![Fault::RateLimited(Some("0".to_string())); 10]);
    let model = model(&server, |c| c.max_retries = 2);
    let results = model.chat(&batch(0..5));
    assert_eq!(results.len(), 5);
    assert_eq!(ok(&results, 0).text, "reply to request 0");
    assert_eq!(ok(&results, 4).text, "reply to request 4");
    for i in 1..=3 {
        assert_eq!(server.hits_for(&key(i)).len(), 3, "one try plus two retries for {}", key(i));
        assert!(err(&results, i).contains("gave up after 3 tries"), "{}", err(&results, i));
    }
    assert!(err(&results, 1).contains("HTTP 500: injected HTTP 500"), "{}", err(&results, 1));
    assert!(err(&results, 3).contains("HTTP 429: Rate limit reached"), "{}", err(&results, 3));
    let stats = model.stats();
    assert_eq!((stats.requests, stats.failed, stats.retries, stats.attempts), (5, 3, 6, 11));
}

#[test]
fn other_client_errors_fail_fast_with_the_servers_message() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::Status(400, "Invalid 'max_tokens': too large".to_string())]);
    server.script(&key(1), [Fault::Status(404, "The model `x` does not exist".to_string())]);
    server.script(&key(2), [Fault::Status(422, "very long complaint ".repeat(300))]);
    server.script(&key(4), [Fault::QuotaExceeded]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..5));
    assert_eq!(
        err(&results, 0),
        "the request was rejected: the server answered HTTP 400: Invalid 'max_tokens': too large"
    );
    assert!(err(&results, 1).contains("HTTP 404: The model `x` does not exist"), "{}", err(&results, 1));
    let long = err(&results, 2);
    assert!(long.contains("HTTP 422: very long complaint") && long.len() < 450, "{long}");
    assert_eq!(ok(&results, 3).text, "reply to request 3");
    assert!(err(&results, 4).contains("HTTP 429: You exceeded your current quota"), "{}", err(&results, 4));
    assert_eq!(server.hits().len(), 5, "no retries for 4xx, nor for a 429 that says the credit is gone");
    let stats = model.stats();
    assert_eq!((stats.failed, stats.retries), (4, 0));
}

#[test]
fn retry_after_holds_the_retry_back() {
    let server = FaultServer::start();
    // Request 0 is refused and told to wait a second. The server notes when each hit arrives:
    // the retry can come no sooner than a second after the refusal was sent, while backoff alone
    // would bring it back within the 20 ms backoff cap.
    server.script(&key(0), [Fault::RateLimited(Some("1".to_string()))]);
    let model = model(&server, |c| c.timeout = Duration::from_secs(5));
    let results = model.chat(&batch(0..1));
    assert!(results.iter().all(Result::is_ok));
    let hits = server.hits_for(&key(0));
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at.duration_since(hits[0].at);
    assert!(gap >= Duration::from_secs(1), "request 0 was retried {gap:?} after its 429, before its Retry-After");
    assert_eq!(model.stats().rate_limited, 1);
}

#[test]
fn retry_after_pauses_every_request_not_only_the_refused_one() {
    let server = FaultServer::start();
    // One slot, and each request refused once with a one-second wait: whichever goes first, the
    // other may not take the slot it frees until the pause is over.
    server.script(&key(0), [Fault::RateLimited(Some("1".to_string()))]);
    server.script(&key(1), [Fault::RateLimited(Some("1".to_string()))]);
    let model = model(&server, |c| {
        c.timeout = Duration::from_secs(5);
        c.max_in_flight = 1;
    });
    assert!(model.chat(&batch(0..2)).iter().all(Result::is_ok));
    let hits = server.hits();
    assert_eq!(hits.len(), 4);
    for hit in &hits[1..] {
        let gap = hit.at.duration_since(hits[0].at);
        assert!(gap >= Duration::from_secs(1), "{} was sent {gap:?} after the first 429", hit.key);
    }
}

#[test]
fn a_retry_after_beyond_the_limit_fails_at_once() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::RateLimited(Some("86400".to_string()))]);
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..1));
    assert!(err(&results, 0).contains("asked to wait 86400s"), "{}", err(&results, 0));
    assert_eq!(server.hits().len(), 1);
}

#[test]
fn every_fault_in_one_batch_still_yields_every_row_in_order() {
    let server = FaultServer::start();
    let faults = [
        None,
        Some(Fault::RateLimited(Some("0".to_string()))),
        Some(Fault::status(500)),
        Some(Fault::status(503)),
        Some(Fault::Slow(Duration::from_secs(3))),
        Some(Fault::Reset),
        Some(Fault::InvalidJson),
        Some(Fault::EmptyChoices),
        Some(Fault::EmptyBody),
        Some(Fault::Refusal),
        Some(Fault::Length),
        None,
    ];
    for (i, fault) in faults.iter().enumerate() {
        server.script(&key(i), fault.clone());
    }
    let model = model(&server, |_| {});
    let results = model.chat(&batch(0..12));
    assert_eq!(results.len(), 12);
    for i in 0..12 {
        let expected = match i {
            9 => REFUSAL.to_string(),
            10 => format!("reply to {} cut", key(i)),
            _ => format!("reply to {}", key(i)),
        };
        assert_eq!(ok(&results, i).text, expected);
        assert_eq!(server.hits_for(&key(i)).len(), if (1..=8).contains(&i) { 2 } else { 1 }, "{}", key(i));
    }
    let stats = model.stats();
    assert_eq!((stats.requests, stats.attempts, stats.retries, stats.failed), (12, 20, 8, 0));
    assert_eq!((stats.rate_limited, stats.server_errors, stats.timeouts), (1, 2, 1));
    assert_eq!((stats.connection_errors, stats.invalid_responses, stats.truncated), (1, 3, 1));
}

#[test]
fn chat_works_from_inside_an_async_context() {
    let server = FaultServer::start();
    let model = model(&server, |_| {});
    let outer = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results = outer.block_on(async { model.chat(&batch(0..3)) });
    assert!((0..3).all(|i| ok(&results, i).text == format!("reply to {}", key(i))));
}
