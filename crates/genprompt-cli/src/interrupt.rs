//! Ctrl-C and SIGTERM. The first asks the run to stop after the batch in flight, whose replies are
//! recorded as they arrive; the second exits at once with code 130. Either way nothing recorded is
//! lost: every journal commit is atomic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Exit code of a run stopped by a signal (128 + SIGINT), as shells expect.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handlers once per process.
pub fn install() -> std::io::Result<()> {
    if STOP.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(signal, i32::from(EXIT_INTERRUPTED), flag.clone())?;
        signal_hook::flag::register(signal, flag.clone())?;
    }
    let watched = flag.clone();
    // A signal handler must not print; this thread tells the user the signal was heard.
    std::thread::Builder::new().name("genprompt-signal".to_string()).spawn(move || {
        while !watched.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("\ninterrupted: finishing the requests in flight and saving them (Ctrl-C again to quit now)");
    })?;
    let _ = STOP.set(flag);
    Ok(())
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    STOP.get().is_some_and(|flag| flag.load(Ordering::Relaxed))
}
