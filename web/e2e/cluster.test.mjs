// Two browser users on two different nodes of a cluster (run by cargo test, bins/parleyd/tests/it/web.rs):
// alice's page is served by node A and talks to it, bob's by node B. The nodes' tail check is set to a
// minute, so everything that reaches the other user within the few seconds allowed here came over NATS.
//
//  1. both register, each on their own node;
//  2. alice creates a private room and invites bob: the invitation reaches bob on the other node, he joins,
//     and alice sees him join;
//  3. they exchange messages both ways, live;
//  4. a direct conversation shows bob online to alice, and offline once his page is closed.
//
// Environment: PARLEY_E2E_URL (alice's node), PARLEY_E2E_URL_B (bob's node), and as for chat.test.mjs.

import { chromium } from "playwright-core";
import { body } from "./long-room.mjs";
import { check, chromiumArgs, env, giveUpAfter, openPage, register, say, shot, step } from "./lib.mjs";

const urlB = process.env.PARLEY_E2E_URL_B;
if (!env.url || !urlB) {
  console.error("set PARLEY_E2E_URL and PARLEY_E2E_URL_B to two nodes of one cluster");
  process.exit(2);
}

const suffix = Math.random().toString(36).slice(2, 8);
const alice = { username: `alice_${suffix}`, password: "correct horse battery" };
const bob = { username: `bob_${suffix}`, password: "staple and paperclip" };
const roomName = `across-${suffix}`;
/** Far below the tail check (a minute): what arrives in time came through NATS. */
const live = { timeout: 5_000 };
const started = Date.now();
const timer = giveUpAfter(100, "e2e cluster");

const browser = await chromium.launch({ executablePath: env.chromium, args: chromiumArgs() });
try {
  const contextA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const contextB = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const a = await openPage(contextA, "alice");
  const b = await openPage(contextB, "bob");

  step("1. alice registers on node A, bob on node B");
  await register(a, alice);
  await register(b, bob, urlB);
  check(new URL(b.url()).origin !== new URL(a.url()).origin, "the two pages are on different nodes");

  step("2. an invitation made on node A reaches bob on node B; his join reaches alice");
  await a.getByRole("button", { name: "New room" }).click();
  await a.getByLabel("Name").fill(roomName);
  await a.getByLabel(/Private/).check();
  await a.getByRole("button", { name: "Create room" }).click();
  await a.getByTestId("room-title").getByText(roomName).waitFor();
  await a.getByRole("button", { name: "Invite" }).click();
  await a.getByLabel("Invite by username").fill(bob.username);
  await a.getByRole("button", { name: "Send invitation" }).click();
  const invitation = b.getByTestId("invitation").filter({ hasText: roomName });
  await invitation.getByText(`from ${alice.username}`).waitFor(live);
  await invitation.getByRole("button", { name: "Join" }).click();
  await b.getByTestId("room-title").getByText(roomName).waitFor();
  await a.getByTestId("timeline").getByText(`${bob.username} joined`).waitFor(live);

  step("3. messages cross both ways, live");
  await say(a, "Hello from node A");
  await body(b, "Hello from node A").waitFor(live);
  await say(b, "And hello from node B");
  await body(a, "And hello from node B").waitFor(live);
  await shot(b, "cluster-01-chat");

  step("4. bob is online for alice across nodes, and offline once his page closes");
  await a.getByRole("button", { name: "Message…" }).click();
  await a.getByLabel("Username", { exact: true }).fill(bob.username);
  await a.getByRole("button", { name: "Open conversation" }).click();
  const direct = a.getByRole("navigation", { name: "Direct" }).getByTestId("room-item");
  await direct.locator("[data-presence=online]").waitFor(live);
  await contextB.close();
  await direct.locator("[data-presence=offline]").waitFor({ timeout: 20_000 });
  await shot(a, "cluster-02-offline");

  step(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
} catch (e) {
  console.error(`e2e cluster failed: ${e instanceof Error ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await browser.close();
}
