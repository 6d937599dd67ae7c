//! `orchestration`: how close `HttpChatModel` comes to the ideal request rate against a server
//! that answers every request after a fixed latency, and what it costs in client CPU, against
//! Curator (bespokelabs-curator) sending the same requests to the same server in the same run.
//!
//! - The server is the crate's `FaultServer` (hit recording off) in a child process
//!   (`genprompt-bench serve MS`), so this process's `getrusage` counts the client only.
//! - Per point: K in flight (`max_in_flight = K`, default AIMD and latency signal on),
//!   N = max(4K, 64) requests in one `chat` call after a warm-up call of K requests (which opens
//!   the connections). Ideal = K / latency requests/s.
//! - Bare reference: reqwest plus a semaphore of K on a runtime like ours, no admission control,
//!   retries or reply parsing beyond JSON: what this machine allows right now, so the gap between
//!   it and the ideal is the server and the machine (load from other processes), not our client.
//! - Curator: `bench/curator_orchestration.py` in `target/curator-venv` (if present) with the same
//!   N, K, prompts and server; it reports its own wall and CPU time (self plus children) around
//!   the generation call, excluding interpreter start and imports.
//! - For quick checks: `GENPROMPT_BENCH_MIN_IN_FLIGHT=128` starts there, `GENPROMPT_BENCH_NO_CURATOR=1`
//!   skips Curator.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use genprompt_llm::ChatModel;
use genprompt_llm_http::testing::{Fault, FaultServer, request};
use genprompt_llm_http::{HttpChatModel, HttpConfig};

/// Serves until stdin closes (the parent exits or drops the pipe). `mode`: `varied` answers
/// distinct made-up sentences instead of `reply to {key}` (and embeds like a sentence encoder);
/// an HTTP status code, `unauthorized` for a 401 echoing the key, or `refusal` (a normal answer
/// that refuses) answers every request with that fault; `kept:N` answers N distinct sentences,
/// then refusals.
pub fn serve(latency_ms: u64, mode: Option<&str>) {
    let server = FaultServer::start();
    server.set_latency(Duration::from_millis(latency_ms));
    server.set_recording(false);
    match mode {
        None => {}
        Some("varied") => {
            server.set_varied_replies(true);
            // Generation runs embed their rows here too: real sentence vectors' length, and an
            // embeddings server's speed rather than a chat model's.
            server.set_embedding_dim(384);
            server.set_embedding_latency(Duration::from_millis(5));
        }
        Some("unauthorized") => server.set_default(Fault::Unauthorized),
        Some(kept) if kept.starts_with("kept:") => {
            // A run that falls short: this many distinct sentences, then only refusals.
            let n: usize = kept["kept:".len()..].parse().expect("kept:N takes a number of replies");
            const SENTENCES: [&str; 4] = [
                "The club signed a young winger from the youth academy.",
                "The senate debated the new election law until midnight.",
                "A rookie driver won the rain-soaked grand prix.",
                "Farmers marched on the capital to protest the import tariffs.",
            ];
            assert!(n <= SENTENCES.len(), "kept:N serves at most {} distinct replies", SENTENCES.len());
            server.script_next(SENTENCES[..n].iter().map(|text| Fault::Reply(text.to_string())));
            server.set_default(Fault::Refusal);
        }
        Some("refusal") => server.set_default(Fault::Refusal),
        Some(code) => server.set_default(Fault::status(
            code.parse().expect("a fault is an HTTP status, `unauthorized`, `refusal`, `kept:N` or `varied`"),
        )),
    }
    println!("{}", server.base_url());
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
        sink.clear();
    }
}

/// User plus system CPU time of this whole process, in seconds.
pub(crate) fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

pub(crate) struct Point {
    pub wall: f64,
    pub cpu: f64,
    /// Extra facts for the table (retries, final limit), empty for Curator.
    note: String,
}

fn ours(base_url: &str, in_flight: usize, n: usize) -> Point {
    let config = HttpConfig { max_in_flight: in_flight, ..HttpConfig::new(base_url, "bench-model") };
    let model = HttpChatModel::new(config).expect("valid config");
    let warm: Vec<_> = (0..in_flight).map(|i| request(1_000_000 + i)).collect();
    assert!(model.chat(&warm).iter().all(Result::is_ok), "warm-up requests succeed");
    let requests: Vec<_> = (0..n).map(request).collect();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let results = model.chat(&requests);
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "every request succeeds against the fixed-latency server");
    let stats = model.stats();
    let note = format!("retries {}, limit at end {}", stats.retries, stats.current_concurrency);
    Point { wall, cpu, note }
}

/// `ours` behind the run store, as `generate` uses it: every reply committed to a run journal
/// and the shared cache (both SQLite, in a fresh folder) as it arrives.
fn ours_stored(base_url: &str, in_flight: usize, n: usize) -> Point {
    use genprompt_store::{CacheMode, ResponseCache, RunJournal, Scope, StoredChat};
    let dir = std::env::temp_dir().join(format!("genprompt-bench-store-{}-{in_flight}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = HttpConfig { max_in_flight: in_flight, ..HttpConfig::new(base_url, "bench-model") };
    let model = HttpChatModel::new(config).expect("valid config");
    let scope = Scope::new(model.identity(), Some(base_url));
    let journal = RunJournal::open(&dir.join("run.sqlite")).expect("journal");
    let cache = ResponseCache::open(&dir.join("responses.sqlite")).expect("cache");
    let stored = StoredChat::new(model, scope, Some(journal), Some(cache), CacheMode::Use, false);
    let warm: Vec<_> = (0..in_flight).map(|i| request(2_000_000 + i)).collect();
    assert!(stored.chat(&warm).iter().all(Result::is_ok), "warm-up requests succeed");
    // Offset so no request is a cache hit from the plain run.
    let requests: Vec<_> = (0..n).map(|i| request(3_000_000 + i)).collect();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let results = stored.chat(&requests);
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert!(results.iter().all(Result::is_ok), "every request succeeds");
    assert_eq!(stored.stats().sent, (n + in_flight) as u64, "nothing came from a cache");
    let _ = std::fs::remove_dir_all(&dir);
    Point { wall, cpu, note: String::new() }
}

fn bare(base_url: &str, in_flight: usize, n: usize) -> Point {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4)))
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(in_flight).build().expect("client");
    let url = format!("{base_url}/chat/completions");
    let body = |i: usize| {
        let request = request(i);
        let messages: Vec<_> = request
            .messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let s = &request.sampling;
        let body = serde_json::json!({"model": "bench-model", "messages": messages, "temperature": s.temperature,
            "top_p": s.top_p, "max_tokens": s.max_tokens, "stop": s.stop, "seed": s.seed});
        serde_json::to_vec(&body).expect("serializes")
    };
    let send_all = |bodies: Vec<Vec<u8>>| {
        runtime.block_on(async {
            let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
            let mut tasks = tokio::task::JoinSet::new();
            for body in bodies {
                let permit = slots.clone().acquire_owned().await.expect("never closed");
                let (http, url) = (http.clone(), url.clone());
                tasks.spawn(async move {
                    let response = http.post(url).header("content-type", "application/json").body(body).send().await;
                    let bytes = response.expect("sent").bytes().await.expect("read");
                    drop(permit);
                    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v["choices"][0].is_object())
                });
            }
            let mut ok = 0;
            while let Some(done) = tasks.join_next().await {
                ok += usize::from(done.expect("task"));
            }
            ok
        })
    };
    send_all((0..in_flight).map(|i| body(1_000_000 + i)).collect());
    let bodies: Vec<_> = (0..n).map(body).collect();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let ok = send_all(bodies);
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(ok, n, "every bare request succeeds");
    Point { wall, cpu, note: String::new() }
}

/// CPU seconds the server process used so far (from /proc, in clock ticks of 10 ms).
fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

pub(crate) fn curator_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/curator-venv/bin/python");
    python.exists().then_some(python)
}

/// Runs the Curator script for one point; `None` (with the reason printed) if it fails. With
/// `prompts`, those are the user messages (a JSON file the script reads) instead of `request {i}`.
pub(crate) fn curator(
    python: &PathBuf,
    base_url: &str,
    in_flight: usize,
    n: usize,
    prompts: Option<&[String]>,
) -> Option<Point> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("curator_orchestration.py");
    let work = std::env::temp_dir().join(format!("genprompt-curator-{}", std::process::id()));
    let mut command = Command::new(python);
    if let Some(prompts) = prompts {
        std::fs::create_dir_all(&work).ok()?;
        let file = work.join("prompts.json");
        std::fs::write(&file, serde_json::to_vec(prompts).ok()?).ok()?;
        command.arg(&script).arg("--prompts").arg(file);
    } else {
        command.arg(&script);
    }
    let output = command
        .args(["--base-url", base_url, "--requests", &n.to_string(), "--in-flight", &in_flight.to_string()])
        .env("CURATOR_CACHE_DIR", &work)
        .env("HF_DATASETS_CACHE", work.join("hf"))
        .env("OPENAI_API_KEY", "sk-bench-dummy")
        .env("CURATOR_DISABLE_CACHE", "true")
        .env("CURATOR_VIEWER", "0")
        .env("TELEMETRY_ENABLED", "false")
        .env("CURATOR_DISABLE_RICH_DISPLAY", "1")
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&work);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with("{\"wall_s\""));
    let Some(line) = line else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        eprintln!(
            "curator failed at {in_flight} in flight:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        return None;
    };
    let field = |name: &str| -> Option<f64> {
        let at = line.find(&format!("\"{name}\": "))? + name.len() + 4;
        line[at..].split([',', '}']).next()?.trim().parse().ok()
    };
    let ok = field("ok")? as usize;
    let note = if ok == n { String::new() } else { format!("only {ok} of {n} answered") };
    Some(Point { wall: field("wall_s")?, cpu: field("cpu_s")?, note })
}

/// The child server, stopped (stdin closed, then killed) on drop.
pub(crate) struct ServerProcess(Child);

/// Starts `genprompt-bench serve MS [varied]` and reads its base URL.
pub(crate) fn start_server(latency_ms: u64, varied: bool) -> (ServerProcess, String) {
    let exe = std::env::current_exe().expect("own path");
    let mut command = Command::new(exe);
    command.args(["serve", &latency_ms.to_string()]);
    if varied {
        command.arg("varied");
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("the server process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("the server prints its URL");
    (ServerProcess(child), line.trim().to_string())
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(latency_ms: u64, max_in_flight: usize) {
    let (server, base_url) = start_server(latency_ms, false);
    let server_pid = server.0.id();
    let _server = server;
    let latency = latency_ms as f64 / 1000.0;
    let python = curator_python().filter(|_| std::env::var_os("GENPROMPT_BENCH_NO_CURATOR").is_none());
    if python.is_none() {
        println!("(no target/curator-venv: Curator columns skipped)");
    }
    println!(
        "fixed-latency server ({latency_ms} ms per request, separate process), N = max(4K, 64) requests per point"
    );
    println!(
        "| in flight K | N | ideal req/s | ours / ideal | ours CPU ms/req | server CPU ms/req | ours + journal and cache / ideal | its CPU ms/req | bare reqwest / ideal | bare CPU ms/req | Curator / ideal | Curator CPU ms/req | throughput ours/Curator | CPU/req ours/Curator | notes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let from = std::env::var("GENPROMPT_BENCH_MIN_IN_FLIGHT").ok().and_then(|v| v.parse().ok());
    let mut in_flight: usize = from.unwrap_or(1);
    while in_flight <= max_in_flight {
        let n = (4 * in_flight).max(64);
        let ideal = in_flight as f64 / latency;
        let server_cpu = process_cpu_seconds(server_pid);
        let mine = ours(&base_url, in_flight, n);
        // Includes the warm-up requests: K more than N.
        let server_ms = (process_cpu_seconds(server_pid) - server_cpu) * 1000.0 / (n + in_flight) as f64;
        let stored = ours_stored(&base_url, in_flight, n);
        let reference = bare(&base_url, in_flight, n);
        let theirs = python.as_ref().and_then(|p| curator(p, &base_url, in_flight, n, None));
        let rate = |p: &Point| n as f64 / p.wall;
        let cpu_ms = |p: &Point| p.cpu * 1000.0 / n as f64;
        let (c_ratio, c_cpu, tput, cpu) = match &theirs {
            Some(c) => (
                format!("{:.3}", rate(c) / ideal),
                format!("{:.3}", cpu_ms(c)),
                format!("{:.2}x", rate(&mine) / rate(c)),
                format!("{:.3}", cpu_ms(&mine) / cpu_ms(c)),
            ),
            None => Default::default(),
        };
        let note = match &theirs {
            Some(c) if !c.note.is_empty() => format!("{}; Curator: {}", mine.note, c.note),
            _ => mine.note.clone(),
        };
        println!(
            "| {in_flight} | {n} | {ideal:.0} | {:.3} | {:.3} | {server_ms:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {c_ratio} | {c_cpu} | {tput} | {cpu} | {note} |",
            rate(&mine) / ideal,
            cpu_ms(&mine),
            rate(&stored) / ideal,
            cpu_ms(&stored),
            rate(&reference) / ideal,
            cpu_ms(&reference),
        );
        in_flight *= 2;
    }
}
