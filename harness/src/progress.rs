//! Progress of a long run, on stderr: a bar on a terminal (indicatif), plain lines otherwise (a
//! line every tenth of the run, or every 50 items when the total is not known), so a CI log shows
//! that a run moves without being flooded. stdout, which carries the results, is never touched.

use std::io::{IsTerminal as _, Write};
use std::time::Instant;

use credsim::report::{Event, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A run's progress: `what` is counted (`scenarios`, `schedules`), out of `total` when known.
pub struct Progress {
    command: &'static str,
    what: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(command: &'static str, what: &'static str, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::new_spinner().with_finish(indicatif::ProgressFinish::AndLeave),
            };
            let template = if total.is_some() {
                "{bar:30} {pos}/{len} {msg} ({elapsed})"
            } else {
                "{spinner} {pos} {msg} ({elapsed})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            command,
            what,
            total,
            done: 0,
            started: Instant::now(),
            bar,
        }
    }

    /// One more item done; `message` is what the bar shows beside the count (findings so far).
    pub fn advance(&mut self, message: String) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.set_message(message);
            bar.inc(1);
            return;
        }
        let every = self.total.map_or(50, |n| (n / 10).max(1));
        if self.done.is_multiple_of(every) || Some(self.done) == self.total {
            let of = self.total.map(|n| format!("/{n}")).unwrap_or_default();
            let mut err = std::io::stderr();
            let _ = writeln!(
                err,
                "{}: {}{of} {} done, {message}{}{:.0} s",
                self.command,
                self.done,
                self.what,
                if message.is_empty() { "" } else { ", " },
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Runs `f` with the bar cleared, so that what `f` prints is not drawn over.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Leaves the bar where it ended.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// A reporter that also advances a [`Progress`] at every finished scenario (the caller finishes
/// the bar: one progress may span several runs).
pub struct WithProgress<'a> {
    pub inner: &'a mut dyn Reporter,
    pub progress: Progress,
    failed: usize,
}

impl<'a> WithProgress<'a> {
    pub fn new(inner: &'a mut dyn Reporter, progress: Progress) -> Self {
        Self {
            inner,
            progress,
            failed: 0,
        }
    }
}

impl Reporter for WithProgress<'_> {
    fn event(&mut self, event: Event<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        let finished = match &event {
            Event::ScenarioFinished(r) => Some(r.verdict),
            Event::RunFinished(_) => None,
        };
        let inner = &mut self.inner;
        let written = self.progress.suspend(|| {
            let w = inner.event(event, out);
            let _ = out.flush();
            w
        });
        if let Some(verdict) = finished {
            if matches!(
                verdict,
                credsim::result::Verdict::Fail | credsim::result::Verdict::Error
            ) {
                self.failed += 1;
            }
            self.progress.advance(format!("{} failed", self.failed));
        }
        written
    }
}
