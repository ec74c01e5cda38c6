//! Renders the event stream of an operation on stderr: progress bars on a terminal
//! (one per step that moves bytes; steps may run at once), plain timestamped lines
//! otherwise (logs, cron mail, CI).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::output::{self, Priority};
use crate::ops::{Event, Step};
use crate::units;

pub struct Renderer {
    /// On a terminal: the bars, keyed by step.
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    /// Plain mode: when each step last printed a progress line, at what count.
    last_progress: HashMap<String, (Instant, u64)>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

fn moves_bytes(step: &Step) -> bool {
    matches!(
        step,
        Step::Copy(_) | Step::Extract(_) | Step::Verify(_) | Step::SafetyBackup(_)
    )
}

/// Plain output: a step's progress line at most every 5 seconds, and only when
/// bytes moved since its last one (a log of a stalled copy must not look busy).
fn progress_due(last: Option<(Instant, u64)>, now: Instant, done: u64) -> bool {
    match last {
        None => true,
        Some((at, was)) => done != was && now.duration_since(at) >= Duration::from_secs(5),
    }
}

impl Renderer {
    pub fn new() -> Self {
        Self {
            // `-v` shows more lines than bars can share a screen with; `-q` none.
            bars: (std::io::stderr().is_terminal() && !output::is_verbose() && !output::is_quiet())
                .then(|| (MultiProgress::new(), HashMap::new())),
            last_progress: HashMap::new(),
        }
    }

    pub fn event(&mut self, ev: Event) {
        match ev {
            Event::Plan(steps) => {
                let names: Vec<String> = steps.iter().map(Step::to_string).collect();
                self.line(Priority::Info, &format!("plan: {}", names.join(" → ")));
            }
            Event::Started(step) => self.started(&step),
            Event::Finished(step, took) => {
                self.finish_bar(&step);
                self.line(
                    Priority::Info,
                    &format!("done: {step} ({})", units::duration(took)),
                );
            }
            Event::Failed(step, why) => {
                self.finish_bar(&step);
                self.line(Priority::Error, &format!("FAILED: {step}: {why}"));
            }
            Event::Progress { step, done, total } => self.progress(&step, done, total),
            // Which file a bar is on is too fast to follow and steps may run at
            // once; the bars show bytes, rate and ETA instead.
            Event::File(_) => {}
            Event::Warning(w) => self.line(Priority::Warning, &format!("warning: {w}")),
            Event::Info(i) => self.line(Priority::Info, &i),
        }
    }

    fn started(&mut self, step: &Step) {
        match &mut self.bars {
            Some((multi, bars)) if moves_bytes(step) => {
                let bar = multi.add(ProgressBar::new(0));
                let style = ProgressStyle::with_template(
                    "{prefix:>24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(step.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                bars.insert(step.to_string(), bar);
            }
            _ => {
                // Plain output: the first progress line comes 5 s into the step.
                self.last_progress
                    .insert(step.to_string(), (Instant::now(), 0));
                self.line(Priority::Info, &format!("{step} ..."));
            }
        }
    }

    fn progress(&mut self, step: &Step, done: u64, total: u64) {
        let key = step.to_string();
        if let Some((_, bars)) = &self.bars {
            if let Some(bar) = bars.get(&key) {
                bar.set_length(total);
                bar.set_position(done);
            }
            return;
        }
        let now = Instant::now();
        if progress_due(self.last_progress.get(&key).copied(), now, done) {
            self.last_progress.insert(key, (now, done));
            let pct = (done * 100).checked_div(total).unwrap_or(0);
            self.line(
                Priority::Info,
                &format!(
                    "{step}: {} of {} ({pct}%)",
                    units::bytes(done),
                    units::bytes(total)
                ),
            );
        }
    }

    fn finish_bar(&mut self, step: &Step) {
        self.last_progress.remove(&step.to_string());
        if let Some((multi, bars)) = &mut self.bars {
            if let Some(bar) = bars.remove(&step.to_string()) {
                bar.finish_and_clear();
                multi.remove(&bar);
            }
        }
    }

    /// One timestamped line; its priority reaches the journal when stderr is
    /// the journal (see `output::stderr_at`), a terminal never sees it.
    fn line(&self, priority: Priority, text: &str) {
        // The journal stamps every line itself, to the microsecond; a terminal
        // shows the time of day; a log file gets the full RFC 3339 time with its
        // zone, so lines from different nights and hosts sort and compare.
        let now = chrono::Local::now();
        let line = if output::stderr_is_journal() {
            text.to_string()
        } else if self.bars.is_some() {
            format!("[{}] {text}", now.format("%H:%M:%S"))
        } else {
            format!(
                "{} {text}",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
            )
        };
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(line);
            }
            // A log reader that went away must not stop or kill the operation.
            None => crate::errln_at!(priority, "{line}"),
        }
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        if let Some((multi, bars)) = &mut self.bars {
            for (_, bar) in bars.drain() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_come_every_5_s_and_only_while_bytes_move() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        assert!(progress_due(None, t0, 0), "the first one at once");
        assert!(!progress_due(Some((t0, 10)), s(4), 20), "not within 5 s");
        assert!(
            progress_due(Some((t0, 10)), s(5), 20),
            "5 s later with bytes moved"
        );
        assert!(
            !progress_due(Some((t0, 10)), s(60), 10),
            "nothing moved: no line"
        );
    }
}
