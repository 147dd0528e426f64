//! Mutex locking for state shared with other threads.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking the data over as it is if a thread panicked while holding
/// it: that panic already failed its own operation, and must not fail every later one.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
