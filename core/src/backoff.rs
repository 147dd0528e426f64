//! The delay between reconnect attempts.

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

    #[test]
    fn grows_by_the_configured_step_up_to_the_cap() {
        let ms = Duration::from_millis;
        let delays = |step, max| {
            (1..=5)
                .map(|retries| reconnect_delay(retries, ms(step), ms(max)))
                .collect::<Vec<_>>()
        };
        assert_eq!(delays(20, 70), [ms(20), ms(40), ms(60), ms(70), ms(70)]);
        assert_eq!(
            delays(100, 250),
            [ms(100), ms(200), ms(250), ms(250), ms(250)]
        );
        assert_eq!(delays(500, 200), [ms(200); 5]);
        assert_eq!(delays(0, 1000), [ms(0); 5]);
    }
}
