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

/// A step's bar: its name, the bar, bytes, rate and ETA on one line that fits
/// 80 columns (the name is cut, the bar takes what is left of the width).
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>22!} [{wide_bar}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec:>11} ETA {eta:<3}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
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
                bar.set_style(bar_style());
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
    use std::sync::{Arc, Mutex};

    /// An 80-column terminal that keeps what is written to it.
    #[derive(Debug, Default, Clone)]
    struct Term80(Arc<Mutex<Vec<String>>>);

    impl indicatif::TermLike for Term80 {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if let Ok(mut lines) = self.0.lock() {
                lines.push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_progress_line_fits_80_columns() {
        let term = Term80::default();
        let bar = ProgressBar::with_draw_target(
            Some(900 << 30),
            indicatif::ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        bar.set_style(bar_style());
        bar.set_prefix(Step::SafetyBackup("structr-neo4j-database".into()).to_string());
        bar.set_position(512 << 30);
        std::thread::sleep(Duration::from_millis(300));
        bar.set_position(513 << 30);
        bar.tick();
        let lines = term.0.lock().unwrap().clone();
        let drawn: Vec<&String> = lines.iter().filter(|l| l.contains("ETA")).collect();
        assert!(!drawn.is_empty(), "no bar drawn: {lines:?}");
        for l in drawn {
            let width = l.chars().count();
            assert!(width <= 80, "{width} columns: {l:?}");
            assert!(l.contains("900.00 GiB"), "bytes shown: {l:?}");
        }
    }

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
