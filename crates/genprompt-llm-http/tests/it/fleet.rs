//! Sessions and fleets of endpoints: results as they complete, requests spread over endpoints,
//! and a run that survives an endpoint that never answered or one that dies in the middle.

use std::collections::HashSet;
use std::time::Duration;

use genprompt_llm::ChatModel;
use genprompt_llm_http::testing::{Fault, FaultServer, fast_config, key, request};
use genprompt_llm_http::{HttpChatModel, HttpConfig};

/// A loopback URL where nothing listens: connections are refused.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

fn fleet(urls: &[String], adjust: impl Fn(&mut HttpConfig)) -> HttpChatModel {
    let configs = urls
        .iter()
        .map(|url| {
            let mut config = fast_config(url);
            adjust(&mut config);
            config
        })
        .collect();
    HttpChatModel::with_endpoints(configs).expect("valid configs")
}

#[test]
fn a_session_hands_results_back_as_they_complete() {
    let server = FaultServer::start();
    server.script(&key(0), [Fault::Slow(Duration::from_millis(300))]);
    let model = HttpChatModel::new(fast_config(&server.base_url())).unwrap();
    let mut session = model.session();
    for i in 0..6 {
        session.submit(i as u64, request(i));
    }
    assert_eq!(session.pending(), 6);
    let mut order = Vec::new();
    while let Some((id, result)) = session.next() {
        assert_eq!(result.unwrap().text, format!("reply to {}", key(id as usize)));
        order.push(id);
    }
    assert_eq!(order.len(), 6);
    assert_eq!(*order.last().unwrap(), 0, "the slow request comes back last: {order:?}");
    assert_eq!(session.pending(), 0);
}

#[test]
fn requests_spread_over_endpoints_with_free_capacity() {
    let (a, b) = (FaultServer::start(), FaultServer::start());
    a.set_latency(Duration::from_millis(20));
    b.set_latency(Duration::from_millis(20));
    let model = fleet(&[a.base_url(), b.base_url()], |c| c.max_in_flight = 4);
    let results = model.chat(&(0..16).map(request).collect::<Vec<_>>());
    assert!(results.iter().all(Result::is_ok));
    let stats = model.endpoint_stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0].stats.requests + stats[1].stats.requests, 16);
    assert!(stats.iter().all(|e| e.stats.requests >= 4), "both endpoints carry the run: {stats:?}");
    assert!(a.max_in_flight() <= 4 && b.max_in_flight() <= 4, "each endpoint keeps its own limit");
    assert_eq!(stats[0].base_url, a.base_url());
    assert_eq!(model.stats().requests, 16);
}

#[test]
fn an_endpoint_that_refuses_connections_is_set_aside() {
    let live = FaultServer::start();
    let dead = refusing_url();
    let model = fleet(&[dead.clone(), live.base_url()], |_| {});
    let results = model.chat(&(0..30).map(request).collect::<Vec<_>>());
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap().text, format!("reply to {}", key(i)));
    }
    let stats = model.endpoint_stats();
    assert_eq!(stats[0].base_url, dead);
    assert_eq!((stats[0].stats.requests, stats[1].stats.requests), (0, 30), "{stats:?}");
    assert!(stats[0].stats.connection_errors >= 3, "{stats:?}");
    assert_eq!(stats[0].set_aside, 1);
    assert_eq!(live.hits().len(), 30, "no request reached the live server twice");
    let counts = model.endpoint_counts();
    assert_eq!((counts[0].base_url.as_str(), counts[0].set_aside, counts[0].requests), (dead.as_str(), 1, 0));
    assert_eq!((counts[1].requests, counts[1].completion_tokens), (30, stats[1].stats.completion_tokens));
}

#[test]
fn an_endpoint_that_dies_mid_run_hands_its_requests_to_the_others() {
    let mut dying = FaultServer::start();
    let other = FaultServer::start();
    dying.set_latency(Duration::from_millis(30));
    other.set_latency(Duration::from_millis(30));
    let model = fleet(&[dying.base_url(), other.base_url()], |c| c.max_in_flight = 4);
    let mut session = model.session();
    let n = 60;
    for i in 0..n {
        session.submit(i as u64, request(i));
    }
    let mut answered = HashSet::new();
    while let Some((id, result)) = session.next() {
        let reply = result.unwrap_or_else(|err| panic!("request {id} failed: {err}"));
        assert_eq!(reply.text, format!("reply to {}", key(id as usize)));
        assert!(answered.insert(id));
        if answered.len() == 10 {
            dying.stop();
        }
    }
    assert_eq!(answered.len(), n);
    let stats = model.endpoint_stats();
    assert!(stats[0].stats.requests >= 1 && stats[0].set_aside >= 1, "{stats:?}");
    assert_eq!(stats[0].stats.requests + stats[1].stats.requests, n as u64, "{stats:?}");
    assert_eq!(stats[0].stats.failed + stats[1].stats.failed, 0);
}
