//! Busy-polling for a lone caller. A call crosses threads twice (JS → I/O thread →
//! Redis → I/O thread → JS), so one awaited call pays two more thread wake-ups than a
//! client whose JS thread owns the socket, and waking an idle CPU is slow next to a
//! Redis round trip. So while a single call is in flight, the I/O thread keeps
//! polling the socket (a zero-timeout epoll per turn) instead of sleeping, and for a
//! moment after the reply it watches for the caller's next call. Polling stops after
//! `REDIS_LAYER_BUSY_POLL_US` (a slow command does not hold a core) and whenever more
//! calls were in flight recently: they keep the thread busy anyway, and spinning
//! would take the CPU redis-server and the JS thread need.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use tokio::sync::Notify;

/// More calls in flight than this and the process counts as busy.
const LONE_CALLS: usize = 1;
/// How long a burst of concurrent calls keeps the poller off.
const BUSY_HOLD_US: u64 = 10_000;
/// How long after the last reply the poller watches for the next call: longer than a
/// sequential caller's turn-around (wake, JSON.parse, next call).
const LINGER_US: u64 = 100;
const DEFAULT_POLL_US: u64 = 1_000;

/// Submitted calls not yet settled, over all connections.
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// When `CALLS` last changed, in µs since `EPOCH`.
static LAST_CHANGE: AtomicU64 = AtomicU64::new(0);
static BUSY_UNTIL: AtomicU64 = AtomicU64::new(0);
static WAKE: Notify = Notify::const_new();
static EPOCH: OnceLock<Instant> = OnceLock::new();
/// Whether a poller task is alive; it clears this when dropped, as when napi-rs shuts
/// its runtime down after the last environment exits and a later one starts a new one.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// The longest the I/O thread polls for one reply; 0 turns polling off.
fn poll_us() -> u64 {
    static POLL_US: OnceLock<u64> = OnceLock::new();
    *POLL_US.get_or_init(|| match std::env::var("REDIS_LAYER_BUSY_POLL_US") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            eprintln!("redis-layer: REDIS_LAYER_BUSY_POLL_US={text:?} is not a whole number of microseconds; using {DEFAULT_POLL_US}");
            DEFAULT_POLL_US
        }),
        Err(_) => DEFAULT_POLL_US,
    })
}

fn micros() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Starts the poller on the runtime unless one is running.
pub fn start() {
    if poll_us() > 0 && !RUNNING.swap(true, Ordering::AcqRel) {
        // Made outside the task so that a task dropped before its first poll clears it too.
        let running = Running;
        napi::bindgen_prelude::spawn(async move {
            let _running = running;
            poll_loop(poll_us()).await;
        });
    }
}

struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

pub fn call_started() {
    let before = CALLS.fetch_add(1, Ordering::Relaxed);
    let now = micros();
    LAST_CHANGE.store(now, Ordering::Relaxed);
    if before >= LONE_CALLS {
        BUSY_UNTIL.store(now + BUSY_HOLD_US, Ordering::Relaxed);
    } else {
        WAKE.notify_one();
    }
}

pub fn call_settled() {
    CALLS.fetch_sub(1, Ordering::Relaxed);
    LAST_CHANGE.store(micros(), Ordering::Relaxed);
}

struct State {
    calls: usize,
    now: u64,
    last_change: u64,
    busy_until: u64,
}

fn should_poll(state: &State, poll_us: u64) -> bool {
    if state.now < state.busy_until {
        return false;
    }
    let quiet_for = state.now.saturating_sub(state.last_change);
    match state.calls {
        0 => quiet_for < LINGER_US.min(poll_us),
        n if n <= LONE_CALLS => quiet_for < poll_us,
        _ => false,
    }
}

async fn poll_loop(poll_us: u64) {
    loop {
        let state = State {
            calls: CALLS.load(Ordering::Relaxed),
            now: micros(),
            last_change: LAST_CHANGE.load(Ordering::Relaxed),
            busy_until: BUSY_UNTIL.load(Ordering::Relaxed),
        };
        if should_poll(&state, poll_us) {
            // Yielding makes the worker poll its I/O driver with a zero timeout instead of
            // parking, so a reply or a submission is picked up without a wake-up. The OS
            // yield first hands this CPU to a thread that just woke (redis-server for our
            // command, the JS thread for our reply), which would otherwise wait for the
            // scheduler to preempt the spinner.
            std::thread::yield_now();
            tokio::task::yield_now().await;
        } else {
            WAKE.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(calls: usize, now: u64, last_change: u64, busy_until: u64) -> State {
        State {
            calls,
            now,
            last_change,
            busy_until,
        }
    }

    #[test]
    fn polls_for_a_lone_call_until_the_limit() {
        assert!(should_poll(&state(1, 1_500, 1_000, 0), 1_000));
        assert!(!should_poll(&state(1, 2_000, 1_000, 0), 1_000));
    }

    #[test]
    fn lingers_briefly_after_the_last_reply() {
        assert!(should_poll(&state(0, 1_050, 1_000, 0), 1_000));
        assert!(!should_poll(&state(0, 1_000 + LINGER_US, 1_000, 0), 1_000));
        assert!(!should_poll(&state(0, 1_020, 1_000, 0), 10));
    }

    #[test]
    fn sleeps_while_many_calls_run_or_ran_recently() {
        assert!(!should_poll(&state(2, 1_010, 1_000, 0), 1_000));
        assert!(!should_poll(&state(1, 1_010, 1_000, 5_000), 1_000));
        assert!(should_poll(&state(1, 5_010, 5_000, 5_000), 1_000));
    }

    #[test]
    fn off_when_the_limit_is_zero() {
        assert!(!should_poll(&state(1, 1_000, 1_000, 0), 0));
        assert!(!should_poll(&state(0, 1_000, 1_000, 0), 0));
    }
}
