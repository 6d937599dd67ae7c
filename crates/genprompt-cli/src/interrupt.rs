//! Ctrl-C and SIGTERM. The first cancels the run's token, so it stops after the batch in flight,
//! whose replies are recorded as they arrive; the second exits at once with code 130. Either way
//! nothing recorded is lost: every journal commit is atomic.

use std::sync::atomic::Ordering;
use std::time::Duration;

use genprompt::CancelToken;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Exit code of a run stopped by a signal (128 + SIGINT), as shells expect.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Makes Ctrl-C and SIGTERM cancel `cancel`; call once per process.
pub fn install(cancel: &CancelToken) -> std::io::Result<()> {
    let flag = cancel.flag();
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(signal, i32::from(EXIT_INTERRUPTED), flag.clone())?;
        signal_hook::flag::register(signal, flag.clone())?;
    }
    // A signal handler must not print; this thread tells the user the signal was heard.
    std::thread::Builder::new().name("genprompt-signal".to_string()).spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("\ninterrupted: finishing the requests in flight and saving them (Ctrl-C again to quit now)");
    })?;
    Ok(())
}
