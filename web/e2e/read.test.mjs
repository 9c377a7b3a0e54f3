// End-to-end test of read state and search in headless Chromium (playwright-core), run by cargo test
// (bins/parleyd/tests/it/web.rs) against parleyd's own grpc-web. A seeding user owns two public rooms;
// alice joins both in the browser. In order:
//
//  1. while alice looks at the quiet room, the seeder writes three messages in the busy one, one naming
//     @alice: the busy room shows an unread badge of 3 and a mention badge of 1;
//  2. alice opens the busy room: a "New messages" divider sits before the first of them and the badges go;
//     after a reload they stay gone (the marker is the server's, not this browser's);
//  3. alice searches for a word (in another case) and for Japanese text: each result names its room, and
//     choosing one opens that room with the message shown and highlighted.
//
// Run standalone against a running server (web/README.md, Tests):
//   PARLEY_E2E_URL=http://127.0.0.1:50071 node web/e2e/read.test.mjs

import { chromium } from "playwright-core";
import { body } from "./long-room.mjs";
import { audit, check, chromiumArgs, closeControl, env, giveUpAfter, live, loadSeeder, openPage, register, shot, step } from "./lib.mjs";

if (!env.url) {
  console.error("set PARLEY_E2E_URL to the server's address, e.g. http://127.0.0.1:50051");
  process.exit(2);
}

const suffix = Math.random().toString(36).slice(2, 8);
const alice = { username: `alice_${suffix}`, password: "correct horse battery" };
const busy = `busy-${suffix}`;
const quiet = `quiet-${suffix}`;
const started = Date.now();

const timer = giveUpAfter(120);

const seed = await loadSeeder();
const seeder = await seed.register(env.url, `seeder_${suffix}`, "Seed Bot");
const busyId = await seed.publicRoom(seeder, busy, "Where things happen");
await seed.publicRoom(seeder, quiet, "Where nothing does");

const browser = await chromium.launch({ executablePath: env.chromium, args: chromiumArgs() });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const a = await openPage(context, "alice");
  const roomItem = (name) => a.getByTestId("room-item").filter({ hasText: name });
  const title = () => a.getByTestId("room-title");

  step("alice registers and joins both rooms");
  await register(a, alice);
  for (const name of [busy, quiet]) {
    await a.getByRole("button", { name: "Browse" }).click();
    await a.getByLabel("Search", { exact: true }).fill(name);
    await a.getByRole("button", { name: `Join ${name}` }).click();
    await title().getByText(name).waitFor();
  }

  step("1. unread and mention badges for the room alice is not looking at");
  const words = ["The zephyr rises at dawn", `@${alice.username} are you coming?`, "東京で会いましょう"];
  for (const text of words) await seed.send(seeder, busyId, text);
  await roomItem(busy).locator('[data-testid=unread][data-count="3"]').waitFor();
  await roomItem(busy).locator('[data-testid=mentions][data-count="1"]').waitFor();
  check((await roomItem(quiet).getByTestId("unread").count()) === 0, "the open room has nothing unread");
  await shot(a, "read-01-badges");

  step("2. opening the room: a divider before the new messages; read on the server");
  await roomItem(busy).click();
  await title().getByText(busy).waitFor();
  const divider = a.getByTestId("new-messages-divider");
  await divider.waitFor();
  const dividerTop = (await divider.boundingBox()).y;
  const firstTop = (await body(a, words[0]).boundingBox()).y;
  check(dividerTop < firstTop, "the divider is above the first unread message");
  await roomItem(busy).getByTestId("unread").waitFor({ state: "detached" });
  check((await roomItem(busy).getByTestId("mentions").count()) === 0, "the mention badge went with it");
  await shot(a, "read-02-divider");
  await audit(a, "a room with the new-messages divider");
  // Look at the other room, let the marker reach the server, and reload: still read.
  await roomItem(quiet).click();
  await title().getByText(quiet).waitFor();
  await a.waitForTimeout(1000);
  await a.reload();
  await live(a);
  await roomItem(busy).waitFor();
  await a.waitForTimeout(500);
  check((await roomItem(busy).getByTestId("unread").count()) === 0, "read stays read after a reload");

  step("3. search: results name their room and open the message in context");
  const search = a.getByTestId("search-input");
  await search.fill("ZEPHYR");
  await search.press("Enter");
  const results = a.getByTestId("search-results");
  const result = results.getByTestId("search-result");
  await result.filter({ hasText: words[0] }).waitFor();
  check((await result.count()) === 1, "one message has the word");
  check((await result.first().textContent()).includes(busy), "the result names its room");
  await shot(a, "read-03-search");
  await audit(a, "search results");
  await result.first().click();
  await title().getByText(busy).waitFor();
  await a.locator("[data-testid=message][data-flash]").filter({ hasText: words[0] }).waitFor();
  await search.fill("東京");
  await search.press("Enter");
  await result.filter({ hasText: words[2] }).waitFor();
  await search.fill("nothingmatchesthis");
  await search.press("Enter");
  await results.getByText("Nothing found.").waitFor();

  step(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
} catch (e) {
  console.error(`e2e failed: ${e instanceof Error ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  closeControl();
  await browser.close();
}
