/*
 * Plain text, without the DOM: one-line excerpts, and whether the composer's caret sits
 * inside a fenced code block that is still open (where Enter means a new line, not "send").
 */

/**
 * A text on one line, cut to `max` characters with an ellipsis: previews, quotes, notifications.
 * @param {string} text
 * @param {number} max
 */
export function oneLine(text, max) {
  const line = String(text ?? "")
    .replace(/\s+/g, " ")
    .trim();
  const chars = Array.from(line); // never cut an emoji or a surrogate pair in two
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : line;
}

/** A fence line of Markdown (CommonMark): up to three spaces, then three or more ` or ~. */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/**
 * Whether the text before `caret` leaves a fenced code block open: a line opening a fence
 * (```js) with no closing fence after it. A closing fence is the same character, at least as
 * many times, with nothing but spaces after it.
 * @param {string} text the composer's value
 * @param {number} caret where the caret is (selectionStart)
 */
export function insideOpenFence(text, caret = text.length) {
  let open = null; // {char, length} while a fence is open
  for (const line of text.slice(0, caret).split("\n")) {
    const match = FENCE.exec(line);
    if (!match) {
      continue;
    }
    const [, fence, rest] = match;
    if (open === null) {
      if (!(fence[0] === "`" && rest.includes("`"))) {
        open = { char: fence[0], length: fence.length }; // an info string may not hold a backtick
      }
    } else if (fence[0] === open.char && fence.length >= open.length && rest.trim() === "") {
      open = null;
    }
  }
  return open !== null;
}
