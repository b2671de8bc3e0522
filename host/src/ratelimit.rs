//! Fixed-window counters for limits that must hold under concurrency. A request takes its slot
//! before any work is done for it, in one locked step, so forty requests at once get exactly the
//! slots there are; an attempt that turns out not to count gives its slot back.

use std::collections::HashMap;
use std::sync::Mutex;

/// At most `max` slots per key in each window of `window_ms`.
pub struct Window {
    max: u32,
    window_ms: i64,
    /// key → (window start, slots taken).
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

/// Keys kept before windows that have ended are swept out.
const MAX_KEYS: usize = 100_000;

impl Window {
    pub fn new(max: u32, window: std::time::Duration) -> Self {
        Self {
            max,
            window_ms: window.as_millis() as i64,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The most slots one key has per window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Takes a slot for `key` at `now` (ms); when none is left, the seconds until the window ends.
    pub fn take(&self, key: &str, now: i64) -> Result<(), u64> {
        let Ok(mut counts) = self.counts.lock() else {
            return Err(1);
        };
        if counts.len() >= MAX_KEYS {
            counts.retain(|_, (start, _)| now - *start < self.window_ms);
        }
        let entry = counts.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= self.window_ms {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return Err(((entry.0 + self.window_ms - now) / 1000 + 1) as u64);
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back a slot taken by [`Window::take`] for an attempt that did not count.
    pub fn give_back(&self, key: &str) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(entry) = counts.get_mut(key)
        {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_takers_get_exactly_the_slots_there_are() {
        let w = std::sync::Arc::new(Window::new(30, std::time::Duration::from_secs(600)));
        let taken: usize = (0..40)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || w.take("k", 1_000).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| usize::from(t.join().unwrap()))
            .sum();
        assert_eq!(taken, 30);
        assert_eq!(w.take("k", 1_000), Err(601));
        w.give_back("k");
        assert!(w.take("k", 1_000).is_ok());
        // Another key, and the next window, start afresh.
        assert!(w.take("other", 1_000).is_ok());
        assert!(w.take("k", 601_000).is_ok());
    }
}
