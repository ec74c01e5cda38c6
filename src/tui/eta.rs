//! The whole job's clock: how long it has run and about how long it has left.
//!
//! A job moves bytes in some steps (copy, extract, verify, safety backup; some in
//! parallel) and waits in others (stop, start, health). What is left is the bytes
//! still to move at the rate seen so far, plus the stops and starts still to come
//! at the pace the newest generation recorded for them.

use std::time::{Duration, Instant};

use super::data::Data;
use super::state::{JobKind, StepState};
use crate::ops::{Event, Step};

/// What a job is expected to take, known when it starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Bytes all its steps together move.
    pub bytes: u64,
    /// Seconds the stops and the starts (with health waits) took last time.
    pub stop_secs: f64,
    pub start_secs: f64,
}

impl Estimate {
    /// The estimate for a job of `kind` on generation `id` (deep: a deep
    /// verification), from what the wizard knows; None when it knows nothing.
    pub fn of(kind: JobKind, id: Option<&str>, data: &Data, deep: bool) -> Option<Estimate> {
        let newest = data.generations.first();
        let named = id.and_then(|id| data.generations.iter().find(|m| m.id == id));
        let (stop_secs, start_secs) =
            newest.map_or((0.0, 0.0), |m| (m.timings.stop_secs, m.timings.start_secs));
        let bytes = match kind {
            JobKind::Backup => data.plan_bytes.or(newest.map(|m| m.total_bytes()))?,
            JobKind::VerifyForRestore => named?.total_archive_size(),
            JobKind::Verify => {
                let m = named?;
                m.total_archive_size() + if deep { m.total_bytes() } else { 0 }
            }
            // It verifies, takes a safety backup of about the same size, extracts.
            JobKind::Restore => {
                let m = named?;
                m.total_archive_size() + 2 * m.total_bytes()
            }
            // A kept folder's size is known to the kept list (`App::begin_job_of`).
            JobKind::Prune | JobKind::Delete | JobKind::Recover | JobKind::RemoveKept => {
                return None
            }
        };
        Some(Estimate {
            bytes,
            stop_secs,
            start_secs,
        })
    }
}

/// The bytes moved so far, and the time spent moving them.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// The last count of each step that reported bytes (parallel ones included).
    moved: Vec<(Step, u64)>,
    /// When bytes first moved.
    first: Option<Instant>,
    /// Time since then in steps that moved none (a stop or start between copies).
    idle: Duration,
}

/// Steps that wait rather than move bytes, counted against the stop and start times.
fn is_stop(s: &Step) -> bool {
    matches!(s, Step::Stop(_))
}

fn is_start(s: &Step) -> bool {
    matches!(s, Step::Start(_) | Step::Health(_))
}

impl Tally {
    pub fn on_event(&mut self, ev: &Event, now: Instant) {
        match ev {
            Event::Progress { step, done, .. } => {
                self.first.get_or_insert(now);
                match self.moved.iter_mut().find(|(s, _)| s == step) {
                    Some((_, n)) => *n = *done,
                    None => self.moved.push((step.clone(), *done)),
                }
            }
            Event::Finished(step, took) if self.first.is_some() && !self.moves(step) => {
                self.idle += *took;
            }
            _ => {}
        }
    }

    fn moves(&self, step: &Step) -> bool {
        self.moved.iter().any(|(s, _)| s == step)
    }

    /// About how long the job has left at `now`, given its steps; None until bytes
    /// moved long enough to know the rate.
    pub fn left(
        &self,
        estimate: &Estimate,
        steps: &[(Step, StepState)],
        now: Instant,
    ) -> Option<Duration> {
        let first = self.first?;
        let done: u64 = self.moved.iter().map(|(_, n)| n).sum();
        // A step without bytes running now is idle time too.
        let waiting: Duration = steps
            .iter()
            .filter(|(s, _)| !self.moves(s))
            .filter_map(|(_, st)| match st {
                StepState::Running(t) if *t >= first => Some(now.saturating_duration_since(*t)),
                _ => None,
            })
            .sum();
        let busy = now
            .saturating_duration_since(first)
            .saturating_sub(self.idle + waiting);
        if done == 0 || busy < Duration::from_millis(500) {
            return None;
        }
        let rate = done as f64 / busy.as_secs_f64();
        let bytes_left = estimate.bytes.saturating_sub(done) as f64 / rate;
        let share = |pick: fn(&Step) -> bool, secs: f64| {
            let all = steps.iter().filter(|(s, _)| pick(s)).count();
            let pending = steps
                .iter()
                .filter(|(s, st)| pick(s) && matches!(st, StepState::Pending))
                .count();
            match all {
                0 => 0.0,
                n => secs * pending as f64 / n as f64,
            }
        };
        let waits = share(is_stop, estimate.stop_secs) + share(is_start, estimate.start_secs);
        Some(Duration::from_secs_f64((bytes_left + waits).max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn bytes_left_at_the_rate_seen_plus_the_starts_to_come() {
        let t0 = Instant::now();
        let copy = |c: &str| Step::Copy(c.into());
        let estimate = Estimate {
            bytes: 400,
            stop_secs: 10.0,
            start_secs: 30.0,
        };
        let mut tally = Tally::default();
        tally.on_event(
            &Event::Progress {
                step: copy("a"),
                done: 0,
                total: 100,
            },
            at(t0, 0),
        );
        tally.on_event(
            &Event::Progress {
                step: copy("a"),
                done: 100,
                total: 100,
            },
            at(t0, 10),
        );
        tally.on_event(
            &Event::Finished(copy("a"), Duration::from_secs(10)),
            at(t0, 10),
        );
        let steps = vec![
            (
                Step::Stop("s".into()),
                StepState::Done(Duration::from_secs(5)),
            ),
            (copy("a"), StepState::Done(Duration::from_secs(10))),
            (copy("b"), StepState::Pending),
            (Step::Start("s".into()), StepState::Pending),
            (Step::Health("s".into()), StepState::Pending),
        ];
        // 100 bytes in 10 s: 300 more take 30 s; the start and health wait 30 s.
        assert_eq!(
            tally.left(&estimate, &steps, at(t0, 10)),
            Some(Duration::from_secs(60))
        );
        // Nothing known before bytes move.
        assert_eq!(Tally::default().left(&estimate, &steps, t0), None);
    }

    #[test]
    fn estimates_come_from_the_plan_or_the_newest_generation() {
        let data = Data {
            plan_bytes: Some(1000),
            ..Data::default()
        };
        let e = Estimate::of(JobKind::Backup, None, &data, false).unwrap();
        assert_eq!(e.bytes, 1000);
        assert_eq!(Estimate::of(JobKind::Prune, None, &data, false), None);
        assert_eq!(
            Estimate::of(JobKind::Restore, Some("x"), &data, false),
            None,
            "an unknown generation"
        );
    }
}
