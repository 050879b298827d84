#!/usr/bin/env node
// Drives the console of `credsim up` in headless Chromium (Debian's, through playwright-core,
// which downloads no browser) and checks what a person would see.
//
//   node console_check.mjs --url 'http://127.0.0.1:PORT/console#token=...' --screenshot out.png \
//       [--expect-text TEXT]... [--trigger-cmd 'SHELL COMMAND'] [--expect-new-event-matching TEXT] \
//       [--expect-unauthorized] [--timeout SECONDS] [--chromium PATH]
//
// It loads the page and waits until #status says "connected"; checks that every --expect-text
// appears in #world; records the highest data-seq in #events; runs --trigger-cmd (sh -c, the
// environment inherited, its output sent to stderr); then waits (--timeout, 20 s by default) for
// a new row in #events with a greater seq whose visible text contains --expect-new-event-matching
// (any new row when only --trigger-cmd is given). With --expect-unauthorized it instead checks
// that #status says "unauthorized" and that #world and #events hold no data (and that no
// --expect-text appears anywhere on the page).
//
// Always takes a full-page screenshot (on failure too). Prints one JSON line on stdout,
// {"ok":true,...} with exit status 0, or {"ok":false,"error":...} with exit status 1 (2 for a bad
// command line). An uncaught error in the page's script is a failure.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TRIGGER_TIMEOUT_MS = 120_000;

function usage(msg) {
  process.stdout.write(JSON.stringify({ ok: false, error: `usage: ${msg}` }) + "\n");
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: "string" },
      screenshot: { type: "string" },
      "expect-text": { type: "string", multiple: true, default: [] },
      "trigger-cmd": { type: "string" },
      "expect-new-event-matching": { type: "string" },
      "expect-unauthorized": { type: "boolean", default: false },
      timeout: { type: "string", default: "20" },
      chromium: { type: "string", default: "/usr/bin/chromium" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  usage(e.message);
}
if (!opts.url) usage("--url is required");
if (!opts.screenshot) usage("--screenshot is required");
const timeoutMs = Number(opts.timeout) * 1000;
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage("--timeout takes a number of seconds");
if (opts["expect-unauthorized"] && (opts["trigger-cmd"] || opts["expect-new-event-matching"])) {
  usage("--expect-unauthorized does not go with --trigger-cmd or --expect-new-event-matching");
}
const screenshot = resolve(opts.screenshot);

// playwright-core is loaded here, after the command line is checked, so that a usage error needs
// no install. It is looked for where scripts/install-clients puts it (target/clients/browser of
// this checkout), then beside this file (npm ci run here), or in $CREDSIM_BROWSER_CLIENT.
function loadPlaywright() {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [
    process.env.CREDSIM_BROWSER_CLIENT,
    join(here, "..", "..", "target", "clients", "browser"),
    here,
  ].filter(Boolean);
  const tried = [];
  for (const dir of dirs) {
    try {
      return createRequire(join(resolve(dir), "package.json"))("playwright-core");
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
      tried.push(resolve(dir));
    }
  }
  process.stdout.write(
    JSON.stringify({
      ok: false,
      error: `playwright-core is not installed (run scripts/install-clients); looked in ${tried.join(", ")}`,
    }) + "\n",
  );
  process.exit(1);
}
const { chromium } = loadPlaywright();

class Failure extends Error {}
const result = { ok: false };
const pageErrors = [];
const consoleErrors = [];
let userDataDir;
let context;

function statusText(page) {
  return page.evaluate(() => document.getElementById("status")?.textContent.trim() ?? null);
}

// Waits until #status says one of `states`; returns the one it says. Fails with what it says
// otherwise (with the page's own detail) after timeoutMs.
async function waitForStatus(page, states) {
  try {
    const handle = await page.waitForFunction(
      (want) => {
        const s = document.getElementById("status")?.textContent.trim();
        return want.includes(s) ? s : false;
      },
      states,
      { timeout: timeoutMs, polling: 100 },
    );
    return await handle.jsonValue();
  } catch {
    const detail = await page
      .evaluate(() => document.getElementById("status-detail")?.textContent.trim() ?? "")
      .catch(() => "");
    throw new Failure(
      `#status still says ${JSON.stringify(await statusText(page).catch(() => null))}` +
        `${detail ? ` (${detail})` : ""} after ${timeoutMs / 1000} s, not ${states.join(" or ")}`,
    );
  }
}

function highestSeq(page) {
  return page.evaluate(() => {
    let max = -1;
    for (const el of document.querySelectorAll("#events [data-seq]")) {
      const n = Number(el.getAttribute("data-seq"));
      if (Number.isFinite(n) && n > max) max = n;
    }
    return max;
  });
}

function runTrigger(cmd) {
  return new Promise((done, fail) => {
    const child = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let tail = "";
    const keep = (chunk) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Failure(`--trigger-cmd still running after ${TRIGGER_TIMEOUT_MS / 1000} s: killed`));
    }, TRIGGER_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      fail(new Failure(`--trigger-cmd could not start: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? `signal ${signal}` : null), tail: tail.trim() });
    });
  });
}

async function checkConnected(page) {
  const status = await waitForStatus(page, ["connected", "unauthorized"]);
  result.status = status;
  if (status !== "connected") {
    const detail = await page.evaluate(() => document.getElementById("status-detail")?.textContent.trim() ?? "");
    throw new Failure(`#status says ${status}${detail ? ` (${detail})` : ""}, not connected`);
  }

  // Every --expect-text in #world (rendered before #status says connected; waited for anyway).
  const texts = opts["expect-text"];
  result.worldTexts = texts;
  if (texts.length) {
    try {
      await page.waitForFunction(
        (want) => {
          const t = document.getElementById("world")?.innerText ?? "";
          return want.every((w) => t.includes(w));
        },
        texts,
        { timeout: timeoutMs, polling: 100 },
      );
    } catch {
      const t = await page.evaluate(() => document.getElementById("world")?.innerText ?? "");
      const missing = texts.filter((w) => !t.includes(w));
      throw new Failure(`#world does not show ${missing.map((m) => JSON.stringify(m)).join(", ")}`);
    }
  }

  const before = await highestSeq(page);
  result.eventsBefore = before;

  const trigger = opts["trigger-cmd"];
  const match = opts["expect-new-event-matching"];
  if (trigger) {
    const t = await runTrigger(trigger);
    result.triggerExit = t.code;
    if (t.code !== 0) result.triggerOutputTail = t.tail;
  }
  result.newEvent = null;
  if (trigger || match !== undefined) {
    let found;
    try {
      const handle = await page.waitForFunction(
        ({ before, match }) => {
          for (const el of document.querySelectorAll("#events [data-seq]")) {
            const seq = Number(el.getAttribute("data-seq"));
            if (!(seq > before)) continue;
            const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
            if (match === null || text.includes(match)) return { seq, text };
          }
          return false;
        },
        { before, match: match ?? null },
        { timeout: timeoutMs, polling: 100 },
      );
      found = await handle.jsonValue();
    } catch {
      const after = await highestSeq(page);
      const what = match !== undefined ? `matching ${JSON.stringify(match)}` : "at all";
      throw new Failure(
        `no new event ${what} within ${timeoutMs / 1000} s (highest seq ${before} before, ${after} now)` +
          (result.triggerExit !== undefined && result.triggerExit !== 0
            ? `; --trigger-cmd exited ${result.triggerExit}`
            : ""),
      );
    }
    result.newEvent = found.text;
    result.newEventSeq = found.seq;
  }
}

async function checkUnauthorized(page) {
  const status = await waitForStatus(page, ["unauthorized", "connected"]);
  result.status = status;
  if (status !== "unauthorized") throw new Failure(`#status says ${status}, not unauthorized`);
  const seen = await page.evaluate(() => ({
    worldEntries: document.querySelectorAll("#world [data-kind]").length,
    worldText: (document.getElementById("world")?.innerText ?? "").trim(),
    events: document.querySelectorAll("#events [data-seq]").length,
    diagram: document.querySelectorAll("#diagram svg").length,
    page: document.body.innerText,
  }));
  if (seen.worldEntries || seen.worldText) throw new Failure(`#world shows data while unauthorized: ${seen.worldText.slice(0, 200)}`);
  if (seen.events) throw new Failure(`#events shows ${seen.events} event(s) while unauthorized`);
  if (seen.diagram) throw new Failure("#diagram shows a diagram while unauthorized");
  const leaked = opts["expect-text"].filter((w) => seen.page.includes(w));
  if (leaked.length) throw new Failure(`the page shows ${leaked.map((l) => JSON.stringify(l)).join(", ")} while unauthorized`);
  result.worldTexts = [];
  result.eventsBefore = -1;
  result.newEvent = null;
}

let exitCode = 1;
let page;
try {
  userDataDir = mkdtempSync(join(tmpdir(), "credsim-console-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 960 },
    timeout: 60_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e && e.message ? e.message : e)));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  const response = await page.goto(opts.url, { waitUntil: "load", timeout: timeoutMs });
  if (!response || !response.ok()) {
    throw new Failure(`GET ${new URL(opts.url).pathname}: HTTP ${response ? response.status() : "no response"}`);
  }
  if (opts["expect-unauthorized"]) await checkUnauthorized(page);
  else await checkConnected(page);
  if (pageErrors.length) throw new Failure(`the page's script failed: ${pageErrors.join("; ")}`);
  result.ok = true;
  exitCode = 0;
} catch (e) {
  result.ok = false;
  result.error = e instanceof Failure ? e.message : `${e && e.name ? e.name + ": " : ""}${e && e.message ? e.message : e}`;
  if (pageErrors.length) result.pageErrors = pageErrors;
  if (consoleErrors.length) result.consoleErrors = consoleErrors.slice(-10);
} finally {
  if (page) {
    try {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true, timeout: 30_000 });
      result.screenshot = screenshot;
    } catch (e) {
      result.screenshotError = e.message;
      if (result.ok) {
        result.ok = false;
        result.error = `screenshot failed: ${e.message}`;
        exitCode = 1;
      }
    }
  }
  if (context) await context.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}
// The token never leaves in the output (a Playwright error may quote the URL).
const token = (() => {
  try {
    return new URLSearchParams(new URL(opts.url).hash.replace(/^#/, "")).get("token");
  } catch {
    return null;
  }
})();
const { ok, ...rest } = result;
let line = JSON.stringify({ ok, ...rest });
if (token) line = line.split(token).join("<token>");
process.stdout.write(line + "\n");
process.exit(exitCode);
