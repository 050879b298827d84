//! Reporters: typed events in, text out, to the writer they are given.
//!
//! - [`Human`]: one line per scenario; for each failure the scenario file and line, the step, the
//!   property's claim and the evidence.
//! - [`JsonLines`]: one object per scenario, then one summary object (`docs/cli.md`).
//! - [`junit`]: JUnit XML, one test case per scenario.
//! - [`write_dir`]: the report directory: `summary.json`, `junit.xml`, `report.html` (each
//!   scenario's credential flow as a sequence diagram, and its verdicts), transcripts.
//!
//! Secrets never reach a reporter: transcripts are redacted when they are made and evidence names
//! secrets by kind and fingerprint only.

use std::io::Write;

use serde_json::json;

use crate::properties::{PropertyVerdict, claim};
use crate::result::{FlowEvent, ScenarioResult, Verdict};

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
    /// Which evidence of what implementations write was available: the sandbox, or why not
    /// (`crate::sandbox`). Said once in every report.
    pub evidence: &'static str,
}

impl Summary {
    /// An empty summary that names the evidence this machine's sandbox gives.
    pub fn on_this_machine() -> Self {
        Self {
            evidence: crate::sandbox::Sandbox::detect().description(),
            ..Self::default()
        }
    }

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
                    if x.unexpected_pass {
                        writeln!(out, "      {}: {}", r.file, x.message)?;
                        continue;
                    }
                    writeln!(
                        out,
                        "      {}:{}: step {}: expectation: {}{}",
                        r.file,
                        x.line,
                        x.step + 1,
                        x.message,
                        x.expected
                            .as_ref()
                            .map(|why| format!(" (failed as expected: {why})"))
                            .unwrap_or_default()
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
                    let at = p.line.map(|l| format!(":{l}")).unwrap_or_default();
                    writeln!(
                        out,
                        "      {}{at}: {} FAILED: {}",
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
                if !s.evidence.is_empty() {
                    writeln!(out, "{}", s.evidence)?;
                }
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

/// Says nothing (a caller that reads the results itself, such as `credsim field`).
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _: Event<'_>, _: &mut dyn Write) -> std::io::Result<()> {
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
                for x in r.expectations.iter().filter(|x| x.expected.is_none()) {
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

/// Writes the report directory (`--report-dir`): `summary.json` (format version
/// [`REPORT_FORMAT_VERSION`]), `junit.xml`, `report.html` with each scenario's credential flow as
/// a sequence diagram and its verdicts, and one redacted transcript per scenario in
/// `transcripts/<scenario>.txt`.
pub fn write_dir(
    dir: &std::path::Path,
    results: &[ScenarioResult],
    summary: &Summary,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("transcripts"))?;
    let scenarios: Vec<serde_json::Value> = results.iter().map(scenario_json).collect();
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&json!({
            "formatVersion": REPORT_FORMAT_VERSION,
            "summary": summary,
            "scenarios": scenarios,
        }))
        .map_err(std::io::Error::other)?
            + "\n",
    )?;
    let mut junit_xml = Vec::new();
    junit(results, summary, &mut junit_xml)?;
    std::fs::write(dir.join("junit.xml"), junit_xml)?;
    for r in results {
        let mut text = format!(
            "scenario {} ({})\nimplementation: {}\nverdict: {}\n\n",
            r.scenario,
            r.file,
            r.implementation,
            r.verdict.as_str()
        );
        for line in &r.transcript {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(
            dir.join("transcripts").join(format!("{}.txt", r.scenario)),
            text,
        )?;
    }
    std::fs::write(dir.join("report.html"), html(results, summary))
}

const PARTICIPANTS: [&str; 5] = ["harness", "implementation", "cluster", "entra", "registry"];

/// A sequence diagram of `flow` between `participants` (columns, left to right), as inline SVG:
/// the report's per scenario, and `credsim up`'s console live.
pub fn sequence_svg(participants: &[&str], flow: &[FlowEvent]) -> String {
    let col = 190.0;
    let x = |p: &str| 90.0 + col * participants.iter().position(|q| *q == p).unwrap_or(0) as f64;
    let row = 34.0;
    let height = 60.0 + row * (flow.len() as f64 + 1.0);
    let width = 90.0 * 2.0 + col * (participants.len() as f64 - 1.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    for p in participants {
        let cx = x(p);
        svg.push_str(&format!(
            r##"<rect x="{}" y="8" width="120" height="24" rx="4" fill="#eef" stroke="#99c"/><text x="{cx}" y="24" text-anchor="middle">{p}</text><line x1="{cx}" y1="32" x2="{cx}" y2="{}" stroke="#ccc" stroke-dasharray="4 3"/>"##,
            cx - 60.0,
            height - 8.0
        ));
    }
    let mut last_step = usize::MAX;
    for (i, e) in flow.iter().enumerate() {
        let y = 56.0 + row * i as f64;
        if e.step != last_step {
            svg.push_str(&format!(
                r##"<text x="4" y="{}" fill="#666">step {}</text>"##,
                y - 8.0,
                e.step + 1
            ));
            last_step = e.step;
        }
        let (x1, x2) = (x(e.from), x(e.to));
        let colour = if e.ok { "#286" } else { "#c33" };
        let dir = if x2 >= x1 { -6.0 } else { 6.0 };
        svg.push_str(&format!(
            r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.5"/><path d="M{x2} {y} l{dir} -4 l0 8 z" fill="{colour}"/><text x="{}" y="{}" text-anchor="middle" fill="{colour}">{}</text>"#,
            (x1 + x2) / 2.0,
            y - 4.0,
            xml_escape(&e.label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn html(results: &[ScenarioResult], summary: &Summary) -> String {
    let mut h = String::from(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>credsim report</title><style>
body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
.pass{color:#286}.fail{color:#c33;font-weight:bold}.error{color:#a60;font-weight:bold}.skip,.not-applicable{color:#888}
section{border-top:1px solid #ddd;margin-top:2em;padding-top:1em}svg{max-width:100%;height:auto}
</style></head><body><h1>credsim report</h1>"#,
    );
    h.push_str(&format!(
        "<p>{} scenario(s): {} passed, {} failed, {} errors, {} skipped.</p><table><tr><th>scenario</th><th>verdict</th><th>ms</th></tr>",
        summary.scenarios, summary.passed, summary.failed, summary.errors, summary.skipped
    ));
    for r in results {
        h.push_str(&format!(
            r##"<tr><td><a href="#{0}">{0}</a></td><td class="{1}">{1}</td><td>{2}</td></tr>"##,
            xml_escape(&r.scenario),
            r.verdict.as_str(),
            r.duration_ms
        ));
    }
    h.push_str("</table>");
    for r in results {
        h.push_str(&format!(
            r#"<section id="{0}"><h2>{0} <span class="{1}">{1}</span></h2><p>{2} · implementation: {3} · <a href="transcripts/{0}.txt">transcript</a></p>"#,
            xml_escape(&r.scenario),
            r.verdict.as_str(),
            xml_escape(&r.file),
            xml_escape(&r.implementation)
        ));
        if let Some(e) = &r.error {
            h.push_str(&format!("<p class=\"error\">{}</p>", xml_escape(e)));
        }
        for x in &r.expectations {
            h.push_str(&format!(
                "<p class=\"fail\">line {}: step {}: {}</p>",
                x.line,
                x.step + 1,
                xml_escape(&x.message)
            ));
        }
        h.push_str("<table><tr><th>property</th><th>verdict</th><th>claim</th><th>examined</th><th>reason and evidence</th></tr>");
        for p in &r.properties {
            let mut detail = xml_escape(p.reason.as_deref().unwrap_or_default());
            for e in &p.evidence {
                detail.push_str(&format!("<br><code>{}</code>", xml_escape(e)));
            }
            h.push_str(&format!(
                r#"<tr><td>{}</td><td class="{v}">{v}</td><td>{}</td><td>{}</td><td>{detail}</td></tr>"#,
                p.id.as_str(),
                xml_escape(claim(p.id)),
                xml_escape(&p.examined),
                v = p.verdict.as_str()
            ));
        }
        h.push_str("</table>");
        if !r.flow.is_empty() {
            h.push_str(&sequence_svg(&PARTICIPANTS, &r.flow));
        }
        h.push_str("</section>");
    }
    h.push_str("</body></html>\n");
    h
}
