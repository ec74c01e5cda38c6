//! The one way the wizard runs slow work off the UI thread (as gitui's asyncgit
//! does): every task reports on one channel that the UI loop drains each frame.
//!
//! A task has a kind and a token. Starting a task of a kind supersedes the one
//! of that kind before it: the older one is cancelled and whatever it still
//! sends is dropped, so a stale answer never lands on a screen. Each task ends
//! with exactly one last answer: what its work returned, or, when the work
//! panicked or its thread could not start, what its `failed` function makes of
//! the report, so no screen waits forever for an answer that never comes.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use super::panics;
use crate::cancel::Cancel;

/// What a task is for. One task of each kind runs at a time.
pub trait Kind: Copy + Eq + Send + 'static {
    /// The name of its thread.
    fn name(self) -> &'static str;
}

/// One message on the channel.
struct Envelope<K, M> {
    kind: K,
    token: u64,
    /// The task's last answer: it ends the task.
    last: bool,
    answer: M,
}

/// The task of a kind that runs now.
struct Running<K> {
    kind: K,
    token: u64,
    cancel: Cancel,
}

/// The running tasks and the channel they answer on.
pub struct Tasks<K: Kind, M: Send + 'static> {
    tx: Sender<Envelope<K, M>>,
    rx: Receiver<Envelope<K, M>>,
    running: Vec<Running<K>>,
    next_token: u64,
}

/// A task's handle on the channel, for the answers it sends before its last.
pub struct Tell<K, M> {
    kind: K,
    token: u64,
    tx: Sender<Envelope<K, M>>,
    cancel: Cancel,
}

impl<K: Kind, M: Send + 'static> Tell<K, M> {
    /// Sends an answer on the way (a job's event, a size measured). It is
    /// dropped on arrival if the task was superseded or forgotten meanwhile.
    pub fn send(&self, answer: M) {
        // The receiver lives as long as `Tasks`: a failed send means the
        // wizard is gone, and nobody is left to tell.
        let _ = self.tx.send(Envelope {
            kind: self.kind,
            token: self.token,
            last: false,
            answer,
        });
    }

    /// Set when the task is asked to stop: a cancel (a job's Ctrl-C), or a
    /// newer task of its kind, or the screen that wanted it was left.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
}

impl<K: Kind, M: Send + 'static> Default for Tasks<K, M> {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel();
        Tasks {
            tx,
            rx,
            running: Vec::new(),
            next_token: 0,
        }
    }
}

impl<K: Kind, M: Send + 'static> Tasks<K, M> {
    /// Runs `work` on a thread of its own as the task of `kind`, superseding the
    /// task of that kind that runs now. What `work` returns is the task's last
    /// answer; if it panics, or its thread cannot start, `failed` makes that
    /// answer from the report.
    pub fn start(
        &mut self,
        kind: K,
        work: impl FnOnce(&Tell<K, M>) -> M + Send + 'static,
        failed: impl Fn(String) -> M + Send + Sync + 'static,
    ) {
        self.forget(kind);
        self.next_token += 1;
        let cancel = Cancel::new();
        let tell = Tell {
            kind,
            token: self.next_token,
            tx: self.tx.clone(),
            cancel: cancel.clone(),
        };
        self.running.push(Running {
            kind,
            token: tell.token,
            cancel,
        });
        let failed = Arc::new(failed);
        let (on_panic, token) = (failed.clone(), tell.token);
        let started = std::thread::Builder::new()
            .name(format!("wizard-{}", kind.name()))
            .spawn(move || {
                let answer = match panics::caught::<M, String>(|| Ok(work(&tell))) {
                    Ok(answer) => answer,
                    Err(report) => on_panic(report),
                };
                let _ = tell.tx.send(Envelope {
                    kind: tell.kind,
                    token: tell.token,
                    last: true,
                    answer,
                });
            });
        if let Err(e) = started {
            let _ = self.tx.send(Envelope {
                kind,
                token,
                last: true,
                answer: failed(format!("cannot start a thread: {e}")),
            });
        }
    }

    /// Whether a task of `kind` runs (its last answer not taken yet).
    pub fn running(&self, kind: K) -> bool {
        self.running.iter().any(|r| r.kind == kind)
    }

    /// Asks the task of `kind` to stop; its answers still count (a cancelled
    /// backup reports how it started the services again).
    pub fn cancel(&self, kind: K) {
        if let Some(r) = self.running.iter().find(|r| r.kind == kind) {
            r.cancel.cancel();
        }
    }

    /// Stops the task of `kind` and drops whatever it still sends.
    pub fn forget(&mut self, kind: K) {
        self.running.retain(|r| {
            if r.kind == kind {
                r.cancel.cancel();
            }
            r.kind != kind
        });
    }

    /// The next answer that arrived, with its kind, skipping those of tasks
    /// superseded or forgotten; None when no answer waits. A last answer ends
    /// its task.
    pub fn next(&mut self) -> Option<(K, M)> {
        loop {
            let e = self.rx.try_recv().ok()?;
            if let Some(answer) = self.take(e) {
                return Some(answer);
            }
        }
    }

    /// Waits for the last answer of the task of `kind`, dropping everything
    /// else meanwhile (for the end of the wizard); None when none runs.
    pub fn wait(&mut self, kind: K) -> Option<M> {
        while self.running(kind) {
            let e = self.rx.recv().ok()?;
            match self.take(e) {
                Some((k, answer)) if k == kind && !self.running(kind) => return Some(answer),
                _ => continue,
            }
        }
        None
    }

    /// The answer in `e` if its task is current; ends the task on its last.
    fn take(&mut self, e: Envelope<K, M>) -> Option<(K, M)> {
        let at = self
            .running
            .iter()
            .position(|r| r.kind == e.kind && r.token == e.token)?;
        if e.last {
            self.running.remove(at);
        }
        Some((e.kind, e.answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum K {
        A,
        B,
    }

    impl Kind for K {
        fn name(self) -> &'static str {
            "test"
        }
    }

    /// Every answer until none is running, in order (fails after 10 s).
    fn all(tasks: &mut Tasks<K, String>) -> Vec<(K, String)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while tasks.running(K::A) || tasks.running(K::B) {
            assert!(Instant::now() < deadline, "no end: {seen:?}");
            match tasks.next() {
                Some(a) => seen.push(a),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        seen
    }

    #[test]
    fn a_task_answers_on_the_way_and_ends_with_its_last_answer() {
        let mut tasks = Tasks::default();
        tasks.start(
            K::A,
            |tell| {
                tell.send("working".into());
                "done".into()
            },
            |e| format!("failed: {e}"),
        );
        assert!(tasks.running(K::A));
        assert_eq!(
            all(&mut tasks),
            [(K::A, "working".into()), (K::A, "done".into())]
        );
        assert!(!tasks.running(K::A));
    }

    #[test]
    fn a_panic_is_the_tasks_failed_answer() {
        let mut tasks = Tasks::default();
        tasks.start(
            K::A,
            |_| panic!("the walk broke"),
            |e| format!("failed: {e}"),
        );
        let seen = all(&mut tasks);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0]
                .1
                .starts_with("failed: internal error: the walk broke"),
            "{seen:?}"
        );
    }

    #[test]
    fn a_newer_task_of_a_kind_drops_the_older_ones_answers_and_cancels_it() {
        let mut tasks = Tasks::default();
        let (go, wait) = mpsc::channel::<()>();
        let (stopped_tx, stopped) = mpsc::channel();
        tasks.start(
            K::A,
            move |tell| {
                let _ = wait.recv();
                let _ = stopped_tx.send(tell.cancel().is_cancelled());
                tell.send("stale".into());
                "stale end".into()
            },
            |e| e,
        );
        tasks.start(K::A, |_| "fresh".into(), |e| e);
        tasks.start(K::B, |_| "other".into(), |e| e);
        go.send(()).unwrap();
        assert_eq!(stopped.recv(), Ok(true), "the older one was cancelled");
        // Its answers come after the newer ones started; none is taken.
        std::thread::sleep(Duration::from_millis(50));
        let mut seen = all(&mut tasks);
        seen.sort_by_key(|(k, _)| *k == K::B);
        assert_eq!(seen, [(K::A, "fresh".into()), (K::B, "other".into())]);
    }

    #[test]
    fn a_cancelled_task_still_answers_but_a_forgotten_one_does_not() {
        let mut tasks = Tasks::default();
        let until_cancelled = |tell: &Tell<K, String>| {
            while !tell.cancel().is_cancelled() {
                std::thread::sleep(Duration::from_millis(2));
            }
            "stopped".to_string()
        };
        tasks.start(K::A, until_cancelled, |e| e);
        tasks.cancel(K::A);
        assert_eq!(tasks.wait(K::A), Some("stopped".into()));
        assert_eq!(tasks.wait(K::A), None, "nothing runs");
        tasks.start(K::B, until_cancelled, |e| e);
        tasks.forget(K::B);
        assert!(!tasks.running(K::B));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(tasks.next(), None, "its answer is dropped");
    }
}
