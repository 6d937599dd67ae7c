//! Runs targets on mutated and generated inputs, catching panics, watching for hangs and
//! measuring memory.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::targets::{self, Target};

/// An input still running after this long is a hang: the watchdog prints it and aborts.
const HANG_LIMIT: Duration = Duration::from_secs(30);
/// Resident memory above this is a finding (inputs are at most a few KiB).
const MEMORY_LIMIT_BYTES: u64 = 2 << 30;
/// Findings kept per target.
const MAX_FAILURES: usize = 20;

#[derive(Clone, Debug)]
pub struct Options {
    pub iterations: u64,
    pub target: Option<String>,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options { iterations: 1_000_000, target: None, seed: 1 }
    }
}

#[derive(Clone, Debug)]
pub struct Failure {
    pub message: String,
    pub input: String,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub generated: u64,
    pub seconds: f64,
    pub slowest: Duration,
    pub largest_input: usize,
    /// Resident memory at the end of the target's run, and the process's peak so far.
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub failures: Vec<Failure>,
}

/// What the watchdog sees: the current target and input, and when the input started.
struct Watch {
    busy_since_ms: AtomicU64,
    busy: AtomicBool,
    current: Mutex<(String, Vec<u8>)>,
}

thread_local! {
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs the chosen targets (all by default) and prints one line per target.
pub fn run(options: &Options) -> Vec<Report> {
    let mut targets = targets::all();
    if let Some(name) = &options.target {
        targets.retain(|t| t.name() == name);
        assert!(!targets.is_empty(), "no target {name}; targets: {}", names().join(", "));
    }
    let started = Instant::now();
    let watch =
        Arc::new(Watch { busy_since_ms: AtomicU64::new(0), busy: AtomicBool::new(false), current: Mutex::default() });
    let watchdog = spawn_watchdog(watch.clone(), started);
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        PANIC.with(|p| *p.borrow_mut() = Some(format!("panic{location}: {message}")));
    }));
    let mut reports = Vec::new();
    for target in &mut targets {
        let report = run_target(target.as_mut(), options, &watch, started);
        println!(
            "{:<16} {:>9} inputs ({:>7} generated) in {:>7.1} s = {:>8.0}/s; slowest {:>7.2} ms; largest {:>6} B; rss {:>5} MiB (peak {:>5} MiB); {} findings",
            report.target,
            report.inputs,
            report.generated,
            report.seconds,
            report.inputs as f64 / report.seconds.max(1e-9),
            report.slowest.as_secs_f64() * 1e3,
            report.largest_input,
            report.rss_bytes >> 20,
            report.peak_rss_bytes >> 20,
            report.failures.len()
        );
        for failure in &report.failures {
            println!("  {}\n    input: {}", failure.message, failure.input);
        }
        reports.push(report);
    }
    std::panic::set_hook(previous_hook);
    watch.busy.store(false, Ordering::SeqCst);
    drop(watchdog);
    reports
}

pub fn names() -> Vec<&'static str> {
    targets::all().iter().map(|t| t.name()).collect()
}

fn run_target(target: &mut dyn Target, options: &Options, watch: &Watch, started: Instant) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ fnv(target.name()));
    let mut corpus = target.seeds();
    assert!(!corpus.is_empty(), "{} has no seed inputs", target.name());
    let dictionary: Vec<Vec<u8>> =
        target.dictionary().into_iter().chain(GENERIC).map(|t| t.as_bytes().to_vec()).collect();
    let mut report = Report {
        target: target.name(),
        inputs: 0,
        generated: 0,
        seconds: 0.0,
        slowest: Duration::ZERO,
        largest_input: 0,
        rss_bytes: 0,
        peak_rss_bytes: 0,
        failures: Vec::new(),
    };
    let began = Instant::now();
    while report.inputs < options.iterations {
        let input = match target.can_generate() && rng.random_bool(0.3) {
            true => {
                report.generated += 1;
                let mut generated = None;
                let outcome = guarded(|| generated = Some(target.generate(&mut rng)));
                if let Err(message) = outcome {
                    record(&mut report, message, b"(while generating)");
                    report.inputs += 1;
                    continue;
                }
                let generated = generated.unwrap_or_default();
                if corpus.len() < 256 && rng.random_bool(0.05) {
                    corpus.push(generated.clone());
                }
                generated
            }
            false => mutate(&corpus, &dictionary, target.max_len(), &mut rng),
        };
        report.largest_input = report.largest_input.max(input.len());
        *watch.current.lock().unwrap_or_else(|p| p.into_inner()) = (target.name().to_string(), input.clone());
        watch.busy_since_ms.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
        watch.busy.store(true, Ordering::SeqCst);
        let one = Instant::now();
        let outcome = guarded(|| target.run(&input));
        report.slowest = report.slowest.max(one.elapsed());
        watch.busy.store(false, Ordering::SeqCst);
        if let Err(message) = outcome {
            record(&mut report, message, &input);
        }
        report.inputs += 1;
        if report.inputs.is_multiple_of(4096) {
            let rss = rss_bytes();
            if rss > MEMORY_LIMIT_BYTES {
                record(&mut report, format!("resident memory {} MiB", rss >> 20), &input);
                break;
            }
        }
    }
    report.seconds = began.elapsed().as_secs_f64();
    report.rss_bytes = rss_bytes();
    report.peak_rss_bytes = peak_rss_bytes();
    report
}

/// Runs `work`, turning a panic into its message.
fn guarded(work: impl FnOnce()) -> Result<(), String> {
    PANIC.with(|p| p.borrow_mut().take());
    catch_unwind(AssertUnwindSafe(work))
        .map_err(|_| PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panic".to_string()))
}

fn record(report: &mut Report, message: String, input: &[u8]) {
    if report.failures.len() < MAX_FAILURES && !report.failures.iter().any(|f| f.message == message) {
        report.failures.push(Failure { message, input: show(input) });
    }
}

/// An input as a Rust byte-string literal, cut to 2,000 characters.
fn show(input: &[u8]) -> String {
    let text: String = input.escape_ascii().to_string();
    let cut: String = text.chars().take(2000).collect();
    format!("b\"{cut}\"{}", if cut.len() < text.len() { " (cut)" } else { "" })
}

fn spawn_watchdog(watch: Arc<Watch>, started: Instant) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if Arc::strong_count(&watch) == 1 {
                return;
            }
            let since = Duration::from_millis(watch.busy_since_ms.load(Ordering::SeqCst));
            if watch.busy.load(Ordering::SeqCst) && started.elapsed().saturating_sub(since) > HANG_LIMIT {
                let (target, input) = watch.current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                eprintln!("HANG: {target} has run one input for over {HANG_LIMIT:?}; input: {}", show(&input));
                std::process::abort();
            }
        }
    })
}

/// Tokens every target's inputs are mutated with: JSON and TOML syntax, numbers at the edges,
/// characters whose lowercase has another length, invalid UTF-8 and control bytes.
const GENERIC: [&str; 26] = [
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\n",
    "\r\n",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0.0",
    "18446744073709551616",
    "9223372036854775807",
    "\u{130}",
    "\u{212a}",
    "\u{1F600}",
    "\u{0}",
    "\u{7f}",
    "\\u0000",
    "\\ud800",
    "é",
];

const INTERESTING: [u8; 12] = [0, 0xff, b'"', b'\\', b'{', b'[', b'\n', 0x80, 0xc3, 0xe9, b'<', b'>'];

/// One to four mutations of a corpus entry, capped at `max_len` bytes.
fn mutate(corpus: &[Vec<u8>], dictionary: &[Vec<u8>], max_len: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut input = corpus[rng.random_range(0..corpus.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let at = |rng: &mut ChaCha8Rng, len: usize| rng.random_range(0..=len);
        match rng.random_range(0..9) {
            0 if !input.is_empty() => {
                let i = rng.random_range(0..input.len());
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !input.is_empty() => {
                let i = rng.random_range(0..input.len());
                input[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 | 3 => {
                let token = &dictionary[rng.random_range(0..dictionary.len())];
                let i = at(rng, input.len());
                input.splice(i..i, token.iter().copied());
            }
            4 if !input.is_empty() => {
                let start = rng.random_range(0..input.len());
                let end = (start + rng.random_range(1..=64)).min(input.len());
                input.drain(start..end);
            }
            5 if !input.is_empty() => {
                let start = rng.random_range(0..input.len());
                let end = (start + rng.random_range(1..=32)).min(input.len());
                let piece = input[start..end].to_vec();
                for _ in 0..rng.random_range(1..=16) {
                    input.splice(end..end, piece.iter().copied());
                }
            }
            6 => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let start = rng.random_range(0..other.len());
                    let end = (start + rng.random_range(1..=128)).min(other.len());
                    let i = at(rng, input.len());
                    let j = (i + rng.random_range(0..=64)).min(input.len());
                    input.splice(i..j, other[start..end].iter().copied());
                }
            }
            7 if !input.is_empty() => input.truncate(rng.random_range(0..input.len())),
            _ => {
                let i = at(rng, input.len());
                let noise: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
                input.splice(i..i, noise);
            }
        }
    }
    input.truncate(max_len);
    input
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    // SAFETY: zero-initialised and, on success, filled in by getrusage.
    let usage = unsafe { usage.assume_init() };
    if ok { usage.ru_maxrss as u64 * 1024 } else { 0 }
}
