use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn one_round_of_429s_halves_once() {
    let t0 = Instant::now();
    let mut aimd = Aimd::new(16, None);
    // 16 requests sent together all come back 429: one halving, not sixteen.
    assert!(aimd.on_congestion(t0, t0 + ms(10)));
    for i in 0..15 {
        assert!(!aimd.on_congestion(t0, t0 + ms(11 + i)));
    }
    assert_eq!(aimd.limit(), 8);
    // A request sent after the cut that is refused again halves again.
    assert!(aimd.on_congestion(t0 + ms(20), t0 + ms(30)));
    assert_eq!(aimd.limit(), 4);
    for i in 0..10 {
        aimd.on_congestion(t0 + ms(100 * (i + 1)), t0 + ms(100 * (i + 1) + 50));
    }
    assert_eq!(aimd.limit(), 1, "never below one");
}

#[test]
fn grows_by_one_per_run_of_successes_up_to_the_cap() {
    let t0 = Instant::now();
    let mut aimd = Aimd::new(4, None);
    aimd.on_congestion(t0, t0);
    assert_eq!(aimd.limit(), 2);
    let mut seen = vec![];
    for i in 0..20 {
        aimd.on_success(t0 + ms(i), t0 + ms(i + 5), 10);
        seen.push(aimd.limit());
    }
    // 2 successes at limit 2, 3 at limit 3, then capped at 4.
    assert_eq!(&seen[..6], &[2, 3, 3, 3, 4, 4]);
    assert_eq!(aimd.limit(), 4);
}

#[test]
fn queueing_latency_halves_but_jitter_on_fast_replies_does_not() {
    let t0 = Instant::now();
    let mut aimd = Aimd::new(16, Some(3.0));
    for _ in 0..6 {
        assert!(!aimd.on_success(t0, t0 + ms(200), 20));
    }
    // Same reply length, twice as slow: normal variation.
    assert!(!aimd.on_success(t0, t0 + ms(400), 20));
    // Four times as slow: the server is queueing.
    assert!(aimd.on_success(t0 + ms(1), t0 + ms(801), 20));
    assert_eq!(aimd.limit(), 8);
    // Long replies take long without any queueing.
    assert!(!aimd.on_success(t0 + ms(2000), t0 + ms(2000 + 200 * 10), 20 * 10 + 16 * 9));

    let mut fast = Aimd::new(16, Some(3.0));
    for _ in 0..6 {
        fast.on_success(t0, t0 + ms(1), 5);
    }
    assert!(!fast.on_success(t0, t0 + ms(40), 5), "a 40x slower 40 ms reply is jitter");
    assert_eq!(fast.limit(), 16);
}

#[test]
fn latency_signal_can_be_turned_off() {
    let t0 = Instant::now();
    let mut aimd = Aimd::new(8, None);
    for _ in 0..6 {
        aimd.on_success(t0, t0 + ms(200), 20);
    }
    assert!(!aimd.on_success(t0, t0 + ms(5000), 20));
    assert_eq!(aimd.limit(), 8);
}

#[test]
fn buckets_refill_per_minute_and_wait_for_what_is_missing() {
    let t0 = Instant::now();
    let mut budgets = Budgets { requests: Some(Bucket::new(60.0, t0)), input: None, output: None };
    for _ in 0..60 {
        budgets.try_take(Cost::default(), t0).unwrap();
    }
    // Empty: the next request waits one second (60 per minute).
    assert_eq!(budgets.try_take(Cost::default(), t0), Err(Duration::from_secs(1)));
    assert_eq!(budgets.try_take(Cost::default(), t0 + Duration::from_secs(1)), Ok(()));
}

#[test]
fn token_reservations_are_corrected_by_usage() {
    let t0 = Instant::now();
    let mut budgets =
        Budgets { requests: None, input: Some(Bucket::new(1000.0, t0)), output: Some(Bucket::new(600.0, t0)) };
    // Reserve 500 output tokens (max_tokens); the reply used 100, so 400 come back.
    budgets.try_take(Cost { input: 100.0, output: 500.0 }, t0).unwrap();
    assert!(budgets.try_take(Cost { input: 100.0, output: 500.0 }, t0).is_err());
    budgets.refund(Cost { input: 0.0, output: 400.0 });
    budgets.try_take(Cost { input: 100.0, output: 500.0 }, t0).unwrap();
    // A request larger than the whole budget waits for a full bucket instead of forever.
    let wait = budgets.try_take(Cost { input: 0.0, output: 10_000.0 }, t0).unwrap_err();
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
}

#[test]
fn server_headers_lower_the_budget_and_pause_until_reset() {
    let t0 = Instant::now();
    let mut budgets = Budgets { requests: Some(Bucket::new(100.0, t0)), input: None, output: None };
    let exhausted = LimitHint { limit: Some(100.0), remaining: Some(0.0), reset: Some(Duration::from_secs(7)) };
    budgets.observe(Some(exhausted), None, t0);
    let wait = budgets.try_take(Cost::default(), t0).unwrap_err();
    assert_eq!(wait, Duration::from_secs(7));
    assert!(budgets.try_take(Cost::default(), t0 + Duration::from_secs(7)).is_ok());

    // No token budget configured: the server's limit creates one.
    let tokens = LimitHint { limit: Some(1000.0), remaining: Some(10.0), reset: None };
    budgets.observe(None, Some(tokens), t0);
    assert!(budgets.input.is_some());
    assert!(budgets.try_take(Cost { input: 500.0, output: 0.0 }, t0 + Duration::from_secs(7)).is_err());
}
