// End-to-end test of the web app in headless Chromium: two users register in two browser contexts, one
// creates a private room and invites the other, who joins; both exchange messages that appear live on the
// other side; the history survives a reload; a closed page turns its user's presence dot offline.
//
//   PARLEY_E2E_URL=http://127.0.0.1:50051 node e2e/chat.test.mjs
//
// Environment: PARLEY_E2E_URL (required: where the app and its API are served, parleyd or Envoy),
// PARLEY_E2E_SCREENSHOTS (default e2e/screenshots), PARLEY_E2E_LABEL (a prefix for screenshot names),
// PARLEY_CHROMIUM (default /usr/bin/chromium). The server should run with a short presence grace
// (--presence-grace 1s); the offline check waits up to 20 seconds.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.PARLEY_E2E_URL;
if (!url) {
  console.error("set PARLEY_E2E_URL to the server's address, e.g. http://127.0.0.1:50051");
  process.exit(2);
}
const shots = process.env.PARLEY_E2E_SCREENSHOTS ?? join(import.meta.dirname, "screenshots");
const label = process.env.PARLEY_E2E_LABEL ?? "";
const executablePath = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

const suffix = Math.random().toString(36).slice(2, 8);
const alice = { username: `alice_${suffix}`, password: "correct horse battery" };
const bob = { username: `bob_${suffix}`, password: "staple and paperclip" };
const roomName = `plans-${suffix}`;

const step = (what) => console.log(`[${label || "e2e"}] ${what}`);
const shot = (page, name) => page.screenshot({ path: join(shots, `${label}${name}.png`) });

const timer = setTimeout(() => {
  console.error("e2e: gave up after 150 s");
  process.exit(1);
}, 150_000);

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const contextA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const contextB = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  for (const c of [contextA, contextB]) c.setDefaultTimeout(15_000);
  const a = await contextA.newPage();
  const b = await contextB.newPage();
  for (const [who, page] of [["alice", a], ["bob", b]]) {
    page.on("pageerror", (e) => console.error(`[${who}] page error: ${e.message}`));
  }

  async function register(page, user, screenshot) {
    await page.goto(url);
    await page.getByRole("tab", { name: "Create account" }).click();
    await page.getByLabel("Username", { exact: true }).fill(user.username);
    await page.getByLabel("Email").fill(`${user.username}@example.com`);
    await page.getByLabel("Password").fill(user.password);
    if (screenshot) await shot(page, "01-register");
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.getByTestId("connection").getByText("connected", { exact: true }).waitFor();
  }

  step("both users register");
  await register(a, alice, true);
  await register(b, bob, false);
  await shot(a, "02-signed-in");

  step("a bad sign-in says why in plain words");
  {
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByLabel("Username or email").fill(alice.username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").getByText(/password/i).waitFor();
    await shot(page, "01-signin-error");
    await page.close();
  }

  step("alice creates a private room");
  await a.getByRole("button", { name: "New room" }).click();
  await a.getByLabel("Name").fill(roomName);
  await a.getByLabel("Topic").fill("Where we decide things");
  await a.getByLabel(/Private/).check();
  await a.getByRole("button", { name: "Create room" }).click();
  await a.getByTestId("room-title").getByText(roomName).waitFor();

  step("alice invites bob");
  await a.getByRole("button", { name: "Invite" }).click();
  await a.getByLabel("Invite by username").fill(bob.username);
  await a.getByRole("button", { name: "Send invitation" }).click();
  await a.getByTestId("timeline").getByText(`invited ${bob.username}`).waitFor();

  step("bob sees the invitation live and joins");
  const invitation = b.getByTestId("invitation").filter({ hasText: roomName });
  await invitation.waitFor();
  await shot(b, "03-invitation");
  await invitation.getByRole("button", { name: "Join" }).click();
  await b.getByTestId("room-title").getByText(roomName).waitFor();
  await a.getByTestId("timeline").getByText(`${bob.username} joined`).waitFor();

  step("alice sees bob online");
  await a.getByTestId("members-toggle").click();
  await a.locator(`[data-testid=member][data-username="${bob.username}"][data-presence=online]`).waitFor();

  step("messages appear live on the other side");
  await a.getByLabel("Message", { exact: true }).fill("Hello Bob! Lunch on Friday?");
  await a.keyboard.press("Enter");
  await b.getByTestId("message").filter({ hasText: "Hello Bob! Lunch on Friday?" }).waitFor();
  await b.getByLabel("Message", { exact: true }).fill("Friday works. Noon at the usual place?");
  await b.getByRole("button", { name: "Send" }).click();
  await a.getByTestId("message").filter({ hasText: "Friday works." }).waitFor();
  await a.getByLabel("Message", { exact: true }).fill("Perfect, see you there.");
  await a.keyboard.press("Enter");
  await b.getByTestId("message").filter({ hasText: "Perfect, see you there." }).waitFor();
  await shot(a, "04-chat-alice");
  await shot(b, "05-chat-bob");

  step("bob reloads: still signed in, history still there");
  await b.reload();
  await b.getByRole("button", { name: "Sign out" }).waitFor();
  await b.getByTestId("room-item").filter({ hasText: roomName }).click();
  for (const text of ["Hello Bob! Lunch on Friday?", "Friday works.", "Perfect, see you there."]) {
    await b.getByTestId("message").filter({ hasText: text }).waitFor();
  }

  step("an unread marker counts messages in a room that is not open");
  // The back button is the phone layout's; on a desktop it is hidden, so click it from script.
  await b.getByRole("button", { name: "Back to rooms", includeHidden: true }).evaluate((el) => el.click());
  await a.getByLabel("Message", { exact: true }).fill("One more thing…");
  await a.keyboard.press("Enter");
  await b.getByTestId("room-item").filter({ hasText: roomName }).getByTestId("unread").getByText("1").waitFor();
  await shot(b, "06-unread");
  await b.getByTestId("room-item").filter({ hasText: roomName }).click();
  await b.getByTestId("message").filter({ hasText: "One more thing…" }).waitFor();

  step("on a phone-sized screen");
  {
    const phone = await contextA.newPage();
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(url);
    await phone.getByTestId("room-item").filter({ hasText: roomName }).waitFor();
    await shot(phone, "07-phone-rooms");
    await phone.getByTestId("room-item").filter({ hasText: roomName }).click();
    await phone.getByTestId("message").filter({ hasText: "Perfect, see you there." }).waitFor();
    await shot(phone, "08-phone-chat");
    await phone.close();
  }

  step("bob closes his page: alice sees him go offline");
  await contextB.close();
  await a
    .locator(`[data-testid=member][data-username="${bob.username}"][data-presence=offline]`)
    .waitFor({ timeout: 20_000 });
  await shot(a, "09-offline");

  step("passed");
} catch (e) {
  console.error(`e2e failed: ${e instanceof Error ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await browser.close();
}
