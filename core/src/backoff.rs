use std::time::Duration;

/// Linear backoff capped at `max`: the seed's `Math.min(retries * 50, 1000)` with
/// `step = 50ms`, `max = 1s`. `retries` counts from 1 for the first retry.
pub fn reconnect_delay(retries: u32, step: Duration, max: Duration) -> Duration {
    step.saturating_mul(retries).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_seed_strategy() {
        let step = Duration::from_millis(50);
        let max = Duration::from_millis(1000);
        for retries in [1u32, 2, 5, 19, 20, 21, 1000, u32::MAX] {
            let seed = (u64::from(retries) * 50).min(1000);
            assert_eq!(
                reconnect_delay(retries, step, max),
                Duration::from_millis(seed)
            );
        }
    }
}
