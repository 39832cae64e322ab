//! Crash points: places where a test can make boss die as if by SIGKILL, to prove that the
//! next command converges whatever moment boss was killed at. `BOSS_CRASH_AT=<point>` in the
//! environment (read once) kills the process with SIGKILL when it reaches that point; the
//! first matching service is enough, since a crash ends the run. Nothing else reads it and it
//! is not a user feature: without the variable, a point costs one load of a `OnceLock`.

use std::sync::OnceLock;

/// A moment in a run where being killed leaves something half done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Point {
    /// The group's network was created.
    NetworkCreated,
    /// A container was created and not yet started.
    ContainerCreated,
    /// A container was started and its readiness check has not begun.
    ContainerStarted,
    /// A service's readiness check passed and its `post_start` has not run.
    Pinged,
    /// The context's new text is written to its temporary file, not yet renamed over the old.
    ContextWritten,
    /// `stop` stopped a container and has not removed it.
    ContainerStopped,
}

impl Point {
    const ALL: [Point; 6] = [
        Point::NetworkCreated,
        Point::ContainerCreated,
        Point::ContainerStarted,
        Point::Pinged,
        Point::ContextWritten,
        Point::ContainerStopped,
    ];

    fn name(self) -> &'static str {
        match self {
            Point::NetworkCreated => "network-created",
            Point::ContainerCreated => "container-created",
            Point::ContainerStarted => "container-started",
            Point::Pinged => "pinged",
            Point::ContextWritten => "context-written",
            Point::ContainerStopped => "container-stopped",
        }
    }
}

/// The point named by `BOSS_CRASH_AT`, if any.
fn armed() -> Option<Point> {
    static ARMED: OnceLock<Option<Point>> = OnceLock::new();
    *ARMED.get_or_init(|| {
        let wanted = std::env::var("BOSS_CRASH_AT").ok()?;
        Point::ALL.into_iter().find(|point| point.name() == wanted)
    })
}

/// Dies here, at once and without clean-up, when `BOSS_CRASH_AT` names this point.
pub(crate) fn point(point: Point) {
    if armed() == Some(point) {
        // SAFETY: `kill` and `getpid` have no preconditions; SIGKILL cannot be caught, so this
        // is exactly what the OOM killer or a CI timeout does to boss.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_has_its_own_name() {
        let mut names: Vec<&str> = Point::ALL.iter().map(|point| point.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Point::ALL.len());
    }
}
