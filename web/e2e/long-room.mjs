// The long room (300 numbered messages and one of 4,000 characters): the page must not grow, the room opens
// at the newest message with the message box in view, and scrolling up reaches message 1 page by page
// while the view keeps its place.

import { box, check, pageFits, shot, step } from "./lib.mjs";

/** The body of the text message that reads exactly `text`. */
export const body = (page, text) =>
  page.locator("[data-testid=message] .body").filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) });

async function inViewport(page, locator, what) {
  const b = await box(locator);
  const height = await page.evaluate(() => window.innerHeight);
  check(b.top >= 0 && b.bottom <= height + 1, `${what} is in the viewport (${Math.round(b.top)}–${Math.round(b.bottom)} of ${height})`);
}

export async function checkLongRoom(page, name) {
  const timeline = page.getByTestId("timeline");
  await body(page, "message 300").waitFor();
  await page.waitForTimeout(200);
  await shot(page, `${name}-newest`);
  check(await pageFits(page), `${name}: the page does not grow (document fits the viewport)`);
  await inViewport(page, body(page, "message 300"), `${name}: the newest message`);
  await inViewport(page, page.getByLabel("Message", { exact: true }), `${name}: the message box`);
  await inViewport(page, page.getByTestId("room-title"), `${name}: the room title`);
  check(
    await timeline.evaluate((el) => el.scrollWidth <= el.clientWidth),
    `${name}: the 4,000-character message wraps inside the timeline`,
  );

  step(`${name}: scrolling up loads older pages and keeps the place`);
  for (let round = 0; round < 20 && !(await body(page, "message 1").count()); round++) {
    const first = timeline.locator("[data-testid=message]").first();
    const seq = await first.getAttribute("data-seq");
    // The message's bubble: the name line above it may go when older messages join its group.
    const anchor = timeline.locator(`[data-testid=message][data-seq="${seq}"] .body`);
    // Measured in the same task as the scroll, before the scroll event can start loading.
    const before = await timeline.evaluate((el, seq) => {
      el.scrollTop = 0;
      return el.querySelector(`[data-testid=message][data-seq="${seq}"] .body`).getBoundingClientRect().top;
    }, seq);
    await page.waitForFunction(
      (seq) => document.querySelector("[data-testid=timeline] [data-testid=message]")?.getAttribute("data-seq") !== seq,
      seq,
    );
    const after = (await box(anchor)).top;
    check(Math.abs(after - before) <= 2, `${name}: message ${seq} stays in place when older ones load (${before} → ${after})`);
    check(await pageFits(page), `${name}: the page still does not grow`);
  }
  await body(page, "message 1").scrollIntoViewIfNeeded();
  await page.getByText("This is the start of the conversation.").waitFor();
  await inViewport(page, body(page, "message 1"), `${name}: message 1, reached by scrolling up`);
  await shot(page, `${name}-oldest`);
  check(await pageFits(page), `${name}: the page does not grow with the whole history loaded`);
  await timeline.evaluate((el) => (el.scrollTop = el.scrollHeight));
}

/** Scrolled up, a new message offers "New messages ↓", which brings it into view. */
export async function checkNewBelow(page, name, sendNext) {
  const timeline = page.getByTestId("timeline");
  await timeline.evaluate((el) => (el.scrollTop = el.scrollHeight - el.clientHeight - 900));
  await page.waitForTimeout(100);
  await sendNext();
  await page.getByTestId("new-below").waitFor();
  await shot(page, `${name}-new-below`);
  await page.getByTestId("new-below").click();
  await body(page, "message 301").waitFor();
  await page.waitForTimeout(100);
  await inViewport(page, body(page, "message 301"), `${name}: the new message after "New messages ↓"`);
}
