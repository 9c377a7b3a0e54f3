// End-to-end test of replies, edits, deletions, reactions, mentions and typing indicators in headless
// Chromium (playwright-core), run by cargo test (bins/parleyd/tests/it/web.rs) against parleyd's own
// grpc-web. A seeding user owns a public room; alice (display name "Alice Liddell") and bob join it from
// the directory, each in a browser context of their own. In order:
//
//  1. bob writes; alice starts a reply to it ("Replying to bob…") and types: bob sees "Alice Liddell is
//     typing…", which goes as soon as alice sends (long before it would lapse by itself); "@bo" offers
//     bob, and Tab completes his username;
//  2. the reply names @bob: bob sees the quote and his mention marked (and the message highlighted);
//     clicking the quote jumps to his message and highlights it; after a reload, with his message older
//     than the loaded page, the quote is read with GetMessage and the jump loads older pages first;
//  3. alice edits her message (Up arrow opens the editor too, Escape cancels): bob sees the new text and
//     "(edited)" with the time on hover;
//  4. alice deletes a message after confirming: bob sees "This message was deleted";
//  5. bob reacts 👍 to alice's message: alice sees a chip with 1; bob clicks his chip and alice sees it go;
//  6. on a phone the actions are one "⋯" menu; axe-core audits the desktop and phone timelines.
//
// Run standalone against a running server with send rates high enough for seeding (web/README.md, Tests):
//   PARLEY_E2E_URL=http://127.0.0.1:50071 node web/e2e/timeline.test.mjs

import { chromium } from "playwright-core";
import { body } from "./long-room.mjs";
import { audit, box, check, chromiumArgs, closeControl, composer, env, giveUpAfter, live, loadSeeder, openPage, register, say, shot, step } from "./lib.mjs";

if (!env.url) {
  console.error("set PARLEY_E2E_URL to the server's address, e.g. http://127.0.0.1:50051");
  process.exit(2);
}

const suffix = Math.random().toString(36).slice(2, 8);
const alice = { username: `alice_${suffix}`, displayName: "Alice Liddell", password: "correct horse battery" };
const bob = { username: `bob_${suffix}`, password: "staple and paperclip" };
const roomName = `mill-${suffix}`;
const started = Date.now();
/** Older than the newest page (50 entries) once this many messages follow it. */
const FILLERS = 60;

const timer = giveUpAfter(150);

const seed = await loadSeeder();
const seeder = await seed.register(env.url, `seeder_${suffix}`, "Seed Bot");
const roomId = await seed.publicRoom(seeder, roomName, "Replies, edits and reactions");

const browser = await chromium.launch({ executablePath: env.chromium, args: chromiumArgs() });
try {
  const desktop = { viewport: { width: 1280, height: 800 } };
  const contextA = await browser.newContext(desktop);
  const contextB = await browser.newContext(desktop);
  const a = await openPage(contextA, "alice");
  const b = await openPage(contextB, "bob");
  const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  /** The text message whose body reads exactly `text`. */
  const message = (page, text) =>
    page.locator("[data-testid=message]").filter({ has: page.locator(".body", { hasText: exactly(text) }) });
  const typing = (page) => page.getByTestId("typing");
  const inTimeline = async (page, locator, what) => {
    const t = await box(page.getByTestId("timeline"));
    const m = await box(locator);
    check(m.top >= t.top - 1 && m.bottom <= t.bottom + 1, `${what} is in view (${Math.round(m.top)}–${Math.round(m.bottom)} of ${Math.round(t.top)}–${Math.round(t.bottom)})`);
  };

  step("alice and bob register and join the room");
  await register(a, alice);
  await register(b, bob);
  for (const page of [a, b]) {
    await page.getByRole("button", { name: "Browse" }).click();
    await page.getByLabel("Search").fill(roomName);
    await page.getByRole("button", { name: `Join ${roomName}` }).click();
    await page.getByTestId("room-title").getByText(roomName).waitFor();
  }
  await a.getByTestId("timeline").getByText(`${bob.username} joined`).waitFor();

  step("1. bob writes; alice replies and types: bob sees her typing until she sends");
  const question = "Where shall we meet?";
  await say(b, question);
  await body(a, question).waitFor();
  for (let i = 1; i <= FILLERS; i++) await seed.send(seeder, roomId, `filler ${i}`);
  await body(a, `filler ${FILLERS}`).waitFor();
  await body(b, `filler ${FILLERS}`).waitFor();
  const target = message(a, question);
  await target.hover();
  await target.getByRole("button", { name: "Reply" }).click();
  const replying = a.getByTestId("replying");
  await replying.getByText(`Replying to ${bob.username}:`).waitFor();
  check((await replying.textContent()).includes(question), "the message box shows what the reply answers");
  const answer = `At the old mill @${bob.username} bring the map!`;
  await composer(a).pressSequentially("At the old mill @bo", { delay: 15 });
  await typing(b).getByText("Alice Liddell is typing…").waitFor();
  await shot(b, "timeline-01-typing");
  // @-autocomplete offers the members whose name starts so; Tab inserts the username.
  const options = a.getByTestId("mention-options");
  await options.getByRole("option", { name: new RegExp(bob.username) }).waitFor();
  check((await options.getByRole("option").count()) === 1, "only bob is offered for @bo");
  await shot(a, "timeline-02a-mention-options");
  await composer(a).press("Tab");
  await options.waitFor({ state: "detached" });
  await composer(a).pressSequentially("bring the map!", { delay: 5 });
  check((await composer(a).inputValue()) === answer, `Tab completed the username (${await composer(a).inputValue()})`);
  await shot(a, "timeline-02b-replying");
  await composer(a).press("Enter");
  await body(b, answer).waitFor();
  // The indicator would lapse by itself only 6 s after alice's last keystroke: it must go at once.
  await b.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "", null, { timeout: 2000 });
  check((await replying.count()) === 0, "sending the reply clears the message box's reply");

  step("2. bob sees the quote and his mention; the quote jumps to his message");
  const reply = message(b, answer);
  const quote = reply.getByTestId("reply-quote");
  check((await quote.locator(".quote-name").textContent()) === bob.username, "the quote names the replied-to sender");
  check((await quote.locator(".quote-text").textContent()) === question, "…and quotes the text");
  const mention = reply.getByTestId("mention");
  check((await mention.textContent()) === `@${bob.username}`, "the mention is marked");
  check(await mention.evaluate((el) => el.classList.contains("self")), "…as naming the reader");
  check(await reply.evaluate((el) => el.classList.contains("mentioned")), "the message that mentions the reader is highlighted");
  check(!(await message(a, answer).getByTestId("mention").evaluate((el) => el.classList.contains("self"))), "for alice it is a plain mention");
  await shot(b, "timeline-03-reply-mention");
  const bobTarget = message(b, question);
  await quote.click();
  await bobTarget.and(b.locator("[data-flash]")).waitFor();
  await inTimeline(b, bobTarget, "the replied-to message after clicking the quote");
  await shot(b, "timeline-04-jumped");

  await b.reload();
  await live(b);
  await body(b, answer).waitFor();
  check((await bobTarget.count()) === 0, `bob's message is older than the loaded page after a reload`);
  await quote.getByText(question).waitFor();
  await quote.click();
  await bobTarget.and(b.locator("[data-flash]")).waitFor();
  await inTimeline(b, bobTarget, "the replied-to message, loaded by jumping");
  await shot(b, "timeline-05-jumped-after-reload");
  await b.getByTestId("timeline").evaluate((el) => (el.scrollTop = el.scrollHeight));

  step("3. alice edits her message: bob sees the new text and (edited)");
  const first = "Lunch at noon?";
  const fixed = "Lunch at one?";
  await say(a, first);
  await body(b, first).waitFor();
  // Up arrow in the empty box opens the editor of her last message; Escape cancels.
  await composer(a).press("ArrowUp");
  const editor = a.getByLabel("Edit message");
  await editor.waitFor();
  check((await editor.inputValue()) === first, "Up arrow edits the last message");
  await editor.press("Escape");
  await editor.waitFor({ state: "detached" });
  check((await body(a, first).count()) === 1, "Escape leaves the message as it was");
  const mine = message(a, first);
  await mine.hover();
  await mine.getByRole("button", { name: "More actions" }).click();
  await a.getByRole("button", { name: "Edit", exact: true }).click();
  await editor.fill(fixed);
  await shot(a, "timeline-06-editing");
  await editor.press("Enter");
  await body(b, fixed).waitFor();
  check((await body(b, first).count()) === 0, "bob no longer sees the old text");
  const edited = message(b, fixed).getByTestId("edited");
  check((await edited.textContent()) === "(edited)", "bob sees (edited)");
  check(/^Edited .*\d{4}/.test((await edited.getAttribute("title")) ?? ""), "…with the edit's date and time on hover");
  await message(a, fixed).getByTestId("edited").waitFor();
  await shot(b, "timeline-07-edited");

  step("4. alice deletes a message after confirming: bob sees the tombstone");
  const oops = "Oops, wrong room";
  await say(a, oops);
  await body(b, oops).waitFor();
  const seq = await message(b, oops).getAttribute("data-seq");
  const doomed = message(a, oops);
  await doomed.hover();
  await doomed.getByRole("button", { name: "More actions" }).click();
  let asked = "";
  a.once("dialog", (d) => {
    asked = d.message();
    void d.accept();
  });
  await a.getByRole("button", { name: "Delete", exact: true }).click();
  const tomb = b.locator(`[data-testid=message][data-seq="${seq}"]`).getByTestId("tombstone");
  await tomb.waitFor();
  check(asked.startsWith("Delete this message?"), `alice was asked to confirm (${asked})`);
  check((await tomb.textContent()) === "This message was deleted", "the tombstone's words");
  check((await tomb.evaluate((el) => getComputedStyle(el).fontStyle)) === "italic", "…in italics");
  check((await body(b, oops).count()) === 0, "the text is gone for bob");
  await a.locator(`[data-testid=message][data-seq="${seq}"]`).getByTestId("tombstone").waitFor();
  await shot(b, "timeline-08-deleted");

  step("5. bob reacts to alice's message, then takes it back");
  const liked = message(b, fixed);
  await liked.hover();
  await liked.getByRole("button", { name: "Add reaction" }).click();
  await b.getByRole("button", { name: "React with 👍" }).click();
  const chipA = message(a, fixed).locator("[data-testid=reaction][data-emoji='👍']");
  const chipB = liked.locator("[data-testid=reaction][data-emoji='👍']");
  await chipA.and(a.locator("[data-count='1']")).waitFor();
  check((await chipA.getAttribute("aria-pressed")) === "false", "alice's chip is not hers");
  await chipB.and(b.locator("[aria-pressed=true]")).waitFor();
  await shot(a, "timeline-09-reaction-seen");
  await shot(b, "timeline-10-reacted");
  await audit(b, "the timeline with a reply, a mention, an edit, a tombstone and a reaction");
  await chipB.click();
  await chipA.waitFor({ state: "detached" });
  await chipB.waitFor({ state: "detached" });
  await shot(a, "timeline-11-reaction-gone");

  step("6. on a phone a message's actions are one menu");
  {
    const phone = await contextB.newPage();
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(env.url);
    await body(phone, fixed).waitFor();
    const menu = message(phone, fixed).getByRole("button", { name: "Message actions" });
    check(await menu.isVisible(), "the ⋯ button shows without hovering");
    await menu.click();
    await phone.getByRole("button", { name: "React with 🎉" }).waitFor();
    await phone.getByRole("button", { name: "Reply", exact: true }).waitFor();
    await shot(phone, "timeline-12-phone-menu");
    await audit(phone, "the phone timeline with a message's menu open");
    await phone.getByRole("button", { name: "React with 🎉" }).click();
    await message(a, fixed).locator("[data-testid=reaction][data-emoji='🎉'][data-count='1']").waitFor();
    await phone.close();
  }

  step(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
} catch (e) {
  console.error(`e2e failed: ${e instanceof Error ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  closeControl();
  await browser.close();
}
