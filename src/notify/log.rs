//! The run's log on the side: the last lines of what the operation reported,
//! formatted like the plain renderer's lines, for the bodies of failure pings and
//! mails; and the downtime seen in the stream (first stop to last start), for runs
//! that end before a manifest records it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ops::{Event, Step};
use crate::units;

/// How many lines a ping or mail carries.
pub const KEEP: usize = 100;

#[derive(Default)]
struct Tap {
    lines: VecDeque<String>,
    first_stop: Option<Instant>,
    last_start: Option<Instant>,
}

/// One process runs one command, so one tap serves it; the CLI feeds it from the
/// same event sink its renderer reads.
static TAP: Mutex<Option<Tap>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Tap) -> R) -> R {
    // A poisoned lock only means a panic elsewhere; the lines are still usable.
    let mut guard = TAP.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Tap::default))
}

/// Forgets what an earlier run in this process recorded.
pub fn reset() {
    with(|t| *t = Tap::default());
}

/// Records one event of the running operation.
pub fn event(ev: &Event) {
    let text = match ev {
        Event::Plan(steps) => {
            let names: Vec<String> = steps.iter().map(Step::to_string).collect();
            format!("plan: {}", names.join(" → "))
        }
        Event::Started(step) => {
            if matches!(step, Step::Stop(_)) {
                with(|t| {
                    t.first_stop.get_or_insert_with(Instant::now);
                });
            }
            format!("{step} ...")
        }
        Event::Finished(step, took) => {
            if matches!(step, Step::Start(_)) {
                with(|t| t.last_start = Some(Instant::now()));
            }
            format!("done: {step} ({})", units::duration(*took))
        }
        Event::Failed(step, why) => format!("FAILED: {step}: {why}"),
        Event::Warning(w) => format!("warning: {w}"),
        Event::Info(i) => i.clone(),
        // Progress and file names are too many lines for a mail; the steps tell the story.
        Event::Progress { .. } | Event::File(_) => return,
    };
    line(&text);
}

/// Records one line (timestamped like the renderer's plain lines).
pub fn line(text: &str) {
    let stamp = chrono::Local::now().format("%H:%M:%S");
    with(|t| {
        for l in text.lines() {
            if t.lines.len() == KEEP {
                t.lines.pop_front();
            }
            t.lines.push_back(format!("[{stamp}] {l}"));
        }
    });
}

/// The last lines recorded, oldest first, one per line.
pub fn last_lines() -> String {
    with(|t| {
        let mut s = String::new();
        for l in &t.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    })
}

/// From the first stop to the last start (or to now, if nothing started again).
pub fn downtime() -> Duration {
    with(|t| match t.first_stop {
        None => Duration::ZERO,
        Some(stop) => t
            .last_start
            .unwrap_or_else(Instant::now)
            .duration_since(stop),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_the_downtime() {
        reset();
        for i in 0..150 {
            line(&format!("line {i}"));
        }
        event(&Event::Started(Step::Stop("neo4j".into())));
        event(&Event::Progress {
            step: Step::Copy("x".into()),
            done: 1,
            total: 2,
        });
        event(&Event::Finished(
            Step::Start("neo4j".into()),
            Duration::ZERO,
        ));
        let text = last_lines();
        assert_eq!(text.lines().count(), KEEP);
        assert!(!text.contains("line 51\n"), "{text}");
        assert!(text.contains("line 52\n") && text.contains("done: start neo4j"));
        assert!(downtime() < Duration::from_secs(5));
        reset();
        assert_eq!(last_lines(), "");
        assert_eq!(downtime(), Duration::ZERO);
    }
}
