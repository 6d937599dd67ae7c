//! Structured output: the schema goes out as `response_format`, bad replies are asked again with
//! a new seed, a bounded number of times.

use genprompt_llm_http::testing::{Fault, FaultServer, key};
use serde_json::json;

use crate::{batch, model};

#[test]
fn chat_json_sends_the_schema_and_retries_invalid_output() {
    let server = FaultServer::start();
    let good = r#"{"genes": ["tone", "topic"]}"#;
    server
        .script(&key(0), [Fault::Reply("Sure! The genes are tone and topic.".to_string()), Fault::Reply(good.into())]);
    server.script(&key(1), [Fault::Reply(format!("```json\n{good}\n```"))]);
    server.script(&key(2), vec![Fault::Reply(r#"{"genes": [1, 2]}"#.to_string()); 5]);
    server.script(&key(3), [Fault::status(500), Fault::Reply(good.into())]);
    let schema = json!({"type": "object", "required": ["genes"],
        "properties": {"genes": {"type": "array", "items": {"type": "string"}}}});
    let model = model(&server, |c| c.json_retries = 2);
    let results = model.chat_json(&batch(0..4), &schema);
    assert_eq!(results.len(), 4);
    for i in [0, 1, 3] {
        let reply = results[i].as_ref().unwrap_or_else(|err| panic!("{i}: {err}"));
        assert_eq!(reply.value, json!({"genes": ["tone", "topic"]}));
    }
    let failure = results[2].as_ref().unwrap_err().to_string();
    assert!(failure.contains("no valid JSON reply after 3 tries") && failure.contains("$.genes[0]"), "{failure}");
    assert_eq!(server.hits_for(&key(2)).len(), 3);

    let hits = server.hits_for(&key(0));
    let format = &hits[0].body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"], json!({"name": "output", "schema": schema}));
    let seeds: Vec<_> = hits.iter().map(|hit| hit.body["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, [0, 1], "a retry asks with the next seed, so it can differ");
    let stats = model.stats();
    assert_eq!((stats.invalid_json, stats.failed, stats.server_errors), (4, 1, 1));
}

#[test]
fn a_server_without_json_schema_gets_json_object_with_the_schema() {
    let server = FaultServer::start();
    server.reject_json_schema();
    let good = r#"{"genes": ["tone"]}"#;
    for i in 0..6 {
        server.script(&key(i), [Fault::Reply(good.into())]);
    }
    let schema = json!({"type": "object", "required": ["genes"]});
    let model = model(&server, |_| {});
    let results = model.chat_json(&batch(0..6), &schema);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap_or_else(|err| panic!("{i}: {err}")).value, json!({"genes": ["tone"]}));
    }
    let hits = server.hits();
    assert_eq!(hits.len(), 6, "every accepted hit came after the switch, one per request");
    for hit in &hits {
        assert_eq!(hit.body["response_format"], json!({"type": "json_object", "schema": schema}));
    }
    let stats = model.stats();
    assert_eq!((stats.failed, stats.invalid_json), (0, 0), "{stats:?}");
    // Concurrent requests may each have been refused once before the switch; never more.
    assert!((1..=6).contains(&stats.server_errors) && stats.server_errors == stats.retries, "{stats:?}");
}
