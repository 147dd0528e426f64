//! Mutex locking for state shared with other threads.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking the data over even if a thread panicked while holding it:
/// every critical section here leaves the data consistent, and a panic is already
/// reported to its caller as a failed operation.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
