//! Reporters: typed events in, text out, to the writer they are given.
//!
//! - [`Human`]: one line per scenario; for each failure the scenario file and line, the step, the
//!   property's claim and the evidence.
//! - [`JsonLines`]: one object per scenario, then one summary object (`../shared/contracts/cli.md`).
//! - [`junit`]: JUnit XML, one test case per scenario.
//!
//! Secrets never reach a reporter: transcripts are redacted when they are made and evidence names
//! secrets by kind and fingerprint only.

use std::io::Write;

use serde_json::json;

use crate::properties::{Verdict as PropertyVerdict, claim};
use crate::run::{ScenarioResult, Verdict};

/// The format of the reports' JSON (`summary.json`, `--format json`).
///
/// Changelog: 1, the first version (per-scenario objects as the CLI contract shows, then a
/// summary object).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// Counts over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub scenarios: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, r: &ScenarioResult) {
        self.scenarios += 1;
        match r.verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Error => self.errors += 1,
            Verdict::Skip => self.skipped += 1,
        }
    }

    /// The exit status the CLI contract gives this run.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// What reporters are fed.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    ScenarioFinished(&'a ScenarioResult),
    RunFinished(&'a Summary),
}

/// Something that turns events into text.
pub trait Reporter {
    fn event(&mut self, event: Event<'_>, out: &mut dyn Write) -> std::io::Result<()>;
}

/// The table for people.
#[derive(Debug, Default)]
pub struct Human;

impl Reporter for Human {
    fn event(&mut self, event: Event<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        match event {
            Event::ScenarioFinished(r) => {
                let tag = match r.verdict {
                    Verdict::Pass => "PASS ",
                    Verdict::Fail => "FAIL ",
                    Verdict::Error => "ERROR",
                    Verdict::Skip => "SKIP ",
                };
                let judged = r
                    .properties
                    .iter()
                    .filter(|p| p.verdict != PropertyVerdict::NotApplicable)
                    .count();
                writeln!(
                    out,
                    "{tag} {:<40} {:>6} ms  {judged} properties judged, {} not applicable",
                    r.scenario,
                    r.duration_ms,
                    r.properties.len() - judged
                )?;
                if let Some(e) = &r.error {
                    writeln!(out, "      {}: {e}", r.file)?;
                }
                if let Some(why) = &r.expected_failure {
                    writeln!(out, "      failed as expected: {why}")?;
                }
                for x in &r.expectations {
                    if x.line == 0 {
                        writeln!(out, "      {}: {}", r.file, x.message)?;
                        continue;
                    }
                    writeln!(
                        out,
                        "      {}:{}: step {}: expectation: {}",
                        r.file,
                        x.line,
                        x.step + 1,
                        x.message
                    )?;
                }
                for p in r
                    .properties
                    .iter()
                    .filter(|p| p.verdict == PropertyVerdict::Fail)
                {
                    if let Some(why) = &p.expected_failure {
                        writeln!(
                            out,
                            "      {}: {} failed as expected: {why}",
                            r.file,
                            p.id.as_str()
                        )?;
                        continue;
                    }
                    writeln!(
                        out,
                        "      {}: {} FAILED: {}",
                        r.file,
                        p.id.as_str(),
                        p.reason.as_deref().unwrap_or_default()
                    )?;
                    writeln!(out, "        claim: {}", claim(p.id))?;
                    writeln!(out, "        examined: {}", p.examined)?;
                    for ev in &p.evidence {
                        writeln!(out, "        evidence: {ev}")?;
                    }
                }
            }
            Event::RunFinished(s) => {
                writeln!(
                    out,
                    "{} scenario(s): {} passed, {} failed, {} errors, {} skipped",
                    s.scenarios, s.passed, s.failed, s.errors, s.skipped
                )?;
            }
        }
        Ok(())
    }
}

/// One JSON object per line.
#[derive(Debug, Default)]
pub struct JsonLines;

/// A scenario's object as the CLI contract shows it.
pub fn scenario_json(r: &ScenarioResult) -> serde_json::Value {
    let properties: Vec<serde_json::Value> = r
        .properties
        .iter()
        .map(|p| {
            let mut o =
                json!({"id": p.id.as_str(), "verdict": p.verdict.as_str(), "examined": p.examined});
            if let Some(reason) = &p.reason {
                o["reason"] = reason.clone().into();
            }
            if !p.evidence.is_empty() {
                o["evidence"] = json!(p.evidence);
            }
            o
        })
        .collect();
    let mut o = json!({
        "scenario": r.scenario,
        "file": r.file,
        "verdict": r.verdict.as_str(),
        "durationMs": r.duration_ms,
        "implementation": r.implementation,
        "properties": properties,
    });
    if !r.expectations.is_empty() {
        o["expectations"] = json!(r.expectations);
    }
    if let Some(e) = &r.error {
        o["error"] = e.clone().into();
    }
    o
}

impl Reporter for JsonLines {
    fn event(&mut self, event: Event<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        match event {
            Event::ScenarioFinished(r) => writeln!(out, "{}", scenario_json(r)),
            Event::RunFinished(s) => writeln!(
                out,
                "{}",
                json!({"summary": s, "formatVersion": REPORT_FORMAT_VERSION})
            ),
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML for a whole run.
pub fn junit(
    results: &[ScenarioResult],
    summary: &Summary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="credsim" tests="{}" failures="{}" errors="{}" skipped="{}" time="{:.3}">"#,
        summary.scenarios,
        summary.failed,
        summary.errors,
        summary.skipped,
        total_ms as f64 / 1000.0
    )?;
    writeln!(
        out,
        r#"  <testsuite name="credsim" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        summary.scenarios, summary.failed, summary.errors, summary.skipped
    )?;
    for r in results {
        writeln!(
            out,
            r#"    <testcase classname="{}" name="{}" time="{:.3}">"#,
            xml_escape(&r.file),
            xml_escape(&r.scenario),
            r.duration_ms as f64 / 1000.0
        )?;
        match r.verdict {
            Verdict::Pass => {}
            Verdict::Skip => writeln!(out, "      <skipped/>")?,
            Verdict::Error => writeln!(
                out,
                r#"      <error message="{}"/>"#,
                xml_escape(r.error.as_deref().unwrap_or("error"))
            )?,
            Verdict::Fail => {
                let mut lines = Vec::new();
                for x in &r.expectations {
                    lines.push(format!(
                        "{}:{}: step {}: {}",
                        r.file,
                        x.line,
                        x.step + 1,
                        x.message
                    ));
                }
                for p in r
                    .properties
                    .iter()
                    .filter(|p| p.verdict == PropertyVerdict::Fail)
                {
                    lines.push(format!(
                        "{}: {}",
                        p.id.as_str(),
                        p.reason.as_deref().unwrap_or_default()
                    ));
                    lines.extend(p.evidence.iter().map(|e| format!("  {e}")));
                }
                writeln!(
                    out,
                    r#"      <failure message="{}">{}</failure>"#,
                    xml_escape(lines.first().map(String::as_str).unwrap_or("failed")),
                    xml_escape(&lines.join("\n"))
                )?;
            }
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}
