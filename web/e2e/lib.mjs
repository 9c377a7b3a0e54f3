// Helpers for the browser test: the browser, users, screenshots, the accessibility audit, seeding and the
// line protocol to the Rust harness.

import { mkdirSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { build } from "esbuild";

export const env = {
  url: process.env.PARLEY_E2E_URL,
  shots: process.env.PARLEY_E2E_SCREENSHOTS ?? join(import.meta.dirname, "screenshots"),
  label: process.env.PARLEY_E2E_LABEL ?? "",
  chromium: process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium",
  /** Set by the Rust harness: it restarts the server when asked on stdout (see `restartServer`). */
  control: process.env.PARLEY_E2E_CONTROL === "stdio",
  /**
   * For an https URL served with a test certificate: base64 of the SHA-256 of the server certificate's
   * public key. Chromium then accepts that one key despite its unknown CA, and still refuses every other
   * certificate error. (Node, for seeding, trusts the test CA through NODE_EXTRA_CA_CERTS.)
   */
  certSpki: process.env.PARLEY_E2E_CERT_SPKI,
};

/** Chromium's command line: headless-friendly flags, and the pinned test certificate if there is one. */
export function chromiumArgs() {
  const args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"];
  if (env.certSpki) args.push(`--ignore-certificate-errors-spki-list=${env.certSpki}`);
  return args;
}

export const step = (what) => console.log(`[${env.label || "e2e"}] ${what}`);

export function shot(page, name) {
  mkdirSync(env.shots, { recursive: true });
  return page.screenshot({ path: join(env.shots, `${env.label}${name}.png`) });
}

export function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

/** Registers a user through the app's form (of the app at `url`) and waits until the chat is live. */
export async function register(page, user, url = env.url) {
  await page.goto(url);
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.getByLabel("Username", { exact: true }).fill(user.username);
  await page.getByLabel("Email").fill(`${user.username}@example.com`);
  if (user.displayName) await page.getByLabel(/Display name/).fill(user.displayName);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await live(page);
}

/** Waits until the connection banner says the stream is live. */
export async function live(page, timeout) {
  await page.locator("[data-testid=connection-banner][data-phase=live]").waitFor({ state: "attached", timeout });
}

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Runs axe-core on the page as it is; fails on any serious or critical violation (and prints them). */
export async function audit(page, what) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary?.split("\n").slice(1).join(" ")}`),
    }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of violations) {
    const line = `axe ${what}: ${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join("\n    ")}`;
    (bad.includes(v) ? console.error : console.log)(line);
  }
  check(!bad.length, `no serious or critical accessibility violations on ${what} (${bad.map((v) => v.id).join(", ")})`);
}

/** Bundles e2e/seed.ts (which uses the app's generated client) and imports it. */
export async function loadSeeder() {
  const outfile = join(mkdtempSync(join(tmpdir(), "parley-e2e-")), "seed.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "seed.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    logLevel: "warning",
  });
  return import(outfile);
}

let control;
let stdinLines;

/**
 * Asks the Rust harness to restart the server at the same address: one line `PARLEY-E2E restart` on
 * stdout; the harness stops the in-process server (its streams end with UNAVAILABLE), waits a moment,
 * starts a new one on the same database and answers `restarted` on stdin.
 */
export async function restartServer() {
  control ??= createInterface({ input: process.stdin });
  stdinLines ??= control[Symbol.asyncIterator]();
  console.log("PARLEY-E2E restart");
  const answer = await Promise.race([
    stdinLines.next(),
    new Promise((_, fail) => setTimeout(() => fail(new Error("no answer to restart in 30 s")), 30_000)),
  ]);
  check(answer.value === "restarted", `the harness restarted the server (it said ${JSON.stringify(answer.value)})`);
}

/** Makes the page look hidden (or visible again) to the Page Visibility API, as switching tabs would. */
export async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
    Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** Where an element is relative to the viewport. */
export function box(locator) {
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
  });
}

/** Whether the page itself does not scroll: everything fits the viewport. */
export function pageFits(page) {
  return page.evaluate(
    () =>
      document.documentElement.scrollHeight <= window.innerHeight &&
      document.documentElement.scrollWidth <= window.innerWidth,
  );
}

/** Stops reading the harness's answers (an open stdin would keep Node running). */
export function closeControl() {
  control?.close();
  process.stdin.destroy();
}

/** Ends the script with a failure if it is still running after `seconds` (clear the timer when done). */
export function giveUpAfter(seconds, what = "e2e") {
  return setTimeout(() => {
    console.error(`${what}: gave up after ${seconds} s`);
    process.exit(1);
  }, seconds * 1000);
}

/** A page in `context` whose uncaught errors are printed under `who`; the context waits up to 10 s. */
export async function openPage(context, who) {
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${who}] page error: ${e.message}`));
  return page;
}

/** The message box of the open room. */
export const composer = (page) => page.getByLabel("Message", { exact: true });

/** Types `text` in the message box and sends it. */
export async function say(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}
