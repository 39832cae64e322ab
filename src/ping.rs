//! The readiness loop: call `ping` until it returns true, every `interval`, until `timeout`.
//! Synchronous and clock-injected so its timing is unit-tested without sleeping.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Time as the ping loop sees it.
pub(crate) trait Clock {
    fn now(&self) -> Instant;
    /// Sleeps `duration`, but not past `deadline` (a long interval must not outlast the
    /// timeout), returning early if `cancel` is set.
    fn sleep(&self, duration: Duration, deadline: Instant, cancel: &CancellationToken);
}

/// The real clock; sleeps in short slices so a cancel is noticed within milliseconds.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration, deadline: Instant, cancel: &CancellationToken) {
        let end = (Instant::now() + duration).min(deadline);
        while !cancel.is_cancelled() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PingOutcome {
    Ready { attempts: u64 },
    TimedOut { attempts: u64 },
    Cancelled,
}

/// Calls `ping` (given the deadline) until it returns true, the deadline passes, or `cancel`
/// is set. No call starts once `timeout` has elapsed; an error from `ping` ends the loop.
pub(crate) fn ping_until_ready<E>(
    clock: &dyn Clock,
    timeout: Duration,
    interval: Duration,
    cancel: &CancellationToken,
    mut ping: impl FnMut(Instant) -> Result<bool, E>,
) -> Result<PingOutcome, E> {
    let start = clock.now();
    let deadline = start + timeout;
    let mut attempts = 0;
    loop {
        if cancel.is_cancelled() {
            return Ok(PingOutcome::Cancelled);
        }
        if clock.now().duration_since(start) >= timeout {
            return Ok(PingOutcome::TimedOut { attempts });
        }
        attempts += 1;
        if ping(deadline)? {
            return Ok(PingOutcome::Ready { attempts });
        }
        clock.sleep(interval, deadline, cancel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::HookError;
    use std::cell::{Cell, RefCell};

    /// A clock that returns scripted readings (seconds after a fixed start) and records sleeps.
    struct ScriptedClock {
        base: Instant,
        readings: RefCell<Vec<f64>>,
        sleeps: Cell<usize>,
        /// The duration of each sleep asked for.
        asked: RefCell<Vec<Duration>>,
    }

    impl ScriptedClock {
        fn new(readings: &[f64]) -> ScriptedClock {
            ScriptedClock {
                base: Instant::now(),
                readings: RefCell::new(readings.to_vec()),
                sleeps: Cell::new(0),
                asked: RefCell::default(),
            }
        }
    }

    impl Clock for ScriptedClock {
        fn now(&self) -> Instant {
            let reading = self.readings.borrow_mut().remove(0);
            self.base + Duration::from_secs_f64(reading)
        }

        fn sleep(&self, duration: Duration, _: Instant, _: &CancellationToken) {
            self.sleeps.set(self.sleeps.get() + 1);
            self.asked.borrow_mut().push(duration);
        }
    }

    #[test]
    fn stops_pinging_at_the_timeout() {
        let clock = ScriptedClock::new(&[0.0, 0.2, 0.6, 0.8, 1.0]);
        let mut calls = 0;
        let outcome: Result<_, HookError> = ping_until_ready(
            &clock,
            Duration::from_secs(1),
            Duration::from_millis(100),
            &CancellationToken::new(),
            |_| {
                calls += 1;
                Ok(false)
            },
        );
        assert_eq!(outcome, Ok(PingOutcome::TimedOut { attempts: 3 }));
        assert_eq!(calls, 3);
        assert_eq!(clock.sleeps.get(), 3);
    }

    // The first call is made at once, and every wait between calls is the service's own
    // interval: no shorter or longer first wait, no back-off.
    #[test]
    fn the_first_ping_is_at_once_and_every_wait_is_the_interval() {
        let clock = ScriptedClock::new(&[0.0, 0.0, 0.25, 0.5, 0.75]);
        let interval = Duration::from_millis(250);
        let mut sleeps_before_each_call = Vec::new();
        let mut answers = vec![false, false, false, true].into_iter();
        let outcome: Result<_, HookError> =
            ping_until_ready(&clock, Duration::from_secs(10), interval, &CancellationToken::new(), |_| {
                sleeps_before_each_call.push(clock.sleeps.get());
                Ok(answers.next().unwrap())
            });
        assert_eq!(outcome, Ok(PingOutcome::Ready { attempts: 4 }));
        assert_eq!(sleeps_before_each_call, [0, 1, 2, 3]);
        assert_eq!(*clock.asked.borrow(), [interval; 3]);
    }

    #[test]
    fn zero_timeout_never_pings() {
        let clock = ScriptedClock::new(&[0.0, 0.0]);
        let outcome: Result<_, HookError> =
            ping_until_ready(&clock, Duration::ZERO, Duration::from_millis(100), &CancellationToken::new(), |_| {
                panic!("ping must not be called")
            });
        assert_eq!(outcome, Ok(PingOutcome::TimedOut { attempts: 0 }));
    }

    #[test]
    fn first_true_is_ready_and_errors_end_the_loop() {
        let clock = ScriptedClock::new(&[0.0, 0.1, 0.2]);
        let mut answers = vec![false, true].into_iter();
        let outcome: Result<_, HookError> = ping_until_ready(
            &clock,
            Duration::from_secs(1),
            Duration::from_millis(100),
            &CancellationToken::new(),
            |_| Ok(answers.next().unwrap()),
        );
        assert_eq!(outcome, Ok(PingOutcome::Ready { attempts: 2 }));

        let clock = ScriptedClock::new(&[0.0, 0.1]);
        let error = HookError { message: "boom".into(), span: None, kind: crate::hook::HookErrorKind::Failed };
        let outcome: Result<_, HookError> = ping_until_ready(
            &clock,
            Duration::from_secs(1),
            Duration::from_millis(100),
            &CancellationToken::new(),
            |_| Err(error.clone()),
        );
        assert_eq!(outcome, Err(error));
        assert_eq!(clock.sleeps.get(), 0, "an error is not retried");
    }

    #[test]
    fn a_long_interval_does_not_outlast_the_timeout() {
        let started = Instant::now();
        let outcome: Result<_, HookError> = ping_until_ready(
            &SystemClock,
            Duration::from_millis(200),
            Duration::from_secs(60),
            &CancellationToken::new(),
            |_| Ok(false),
        );
        assert_eq!(outcome, Ok(PingOutcome::TimedOut { attempts: 1 }));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn cancel_stops_the_loop() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let outcome: Result<_, HookError> =
            ping_until_ready(&SystemClock, Duration::from_secs(60), Duration::from_millis(100), &cancel, |_| Ok(false));
        assert_eq!(outcome, Ok(PingOutcome::Cancelled));
    }
}
