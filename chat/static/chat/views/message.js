/*
 * One message as an element: author, time, the reply it answers, its body (the server's
 * sanitised `html`), its files (attachments.js), its reactions and the buttons that act on
 * it. A message still in the outbox has the same shape, with its body as plain text and a
 * status line.
 */
import { EXCERPT } from "../core/constants.js";
import { reactionSummary } from "../core/emoji.js";
import { oneLine } from "../core/text.js";
import { clockTime, dayLabel, fullTime, parseTime } from "../core/time.js";
import { renderAttachments } from "./attachments.js";
import { avatar, button, el, icon } from "./dom.js";
import { errorText, formatOptions, nameList, t } from "./strings.js";

/**
 * @typedef {object} MessageContext what a message's look depends on besides itself
 * @property {string|null} me my username
 * @property {boolean} moderator whether I moderate the room (I may delete others' messages)
 * @property {boolean} canPost whether I may post (reply, react) here now
 */

/** The element id of message `id`. */
export function messageElementId(id) {
  return `msg-${id}`;
}

/** The skeleton both kinds share. */
function frame(author, created, bot = false) {
  const date = created ?? new Date();
  const options = formatOptions();
  const li = el("li", "msg");
  li.dataset.author = author;
  li.dataset.ts = String(date.getTime());

  const day = el("div", "day-divider");
  day.append(el("span", "day-label", dayLabel(date, { ...options, now: new Date() })));
  const unread = el("div", "unread-divider");
  unread.append(el("span", null, t("log_new_messages")));

  const row = el("div", "msg-row");
  const meta = el("div", "msg-meta");
  meta.append(el("span", "msg-author", author));
  if (bot) {
    meta.append(el("span", "badge-bot", t("msg_bot"))); // a bot's messages say so
  }
  const time = el("time", "msg-time", clockTime(date, options));
  time.dateTime = date.toISOString();
  time.title = fullTime(date, options);
  meta.append(time);
  const side = el("span", "msg-side-time", clockTime(date, options));
  side.title = time.title;
  side.setAttribute("aria-hidden", "true");
  const content = el("div", "msg-content");
  row.append(avatar(author, "msg-avatar"), meta, side, content);
  li.append(day, unread, row);
  return { li, content, row };
}

/**
 * The quote of the message a reply answers; clicking it shows the original.
 * @param {{id: number, author: string|null, excerpt: string|null}} reply
 */
export function replyQuote(reply) {
  if (reply.author === null || reply.author === undefined) {
    const gone = el("div", "msg-reply is-gone", t("reply_original_gone"));
    return gone;
  }
  const quote = button("msg-reply");
  quote.dataset.action = "show-original";
  quote.dataset.replyTo = String(reply.id);
  quote.setAttribute("aria-label", t("reply_show_original", { author: reply.author, excerpt: reply.excerpt ?? "" }));
  quote.append(icon("reply", 13), el("span", "msg-reply-author", reply.author), el("span", "msg-reply-excerpt", reply.excerpt ?? ""));
  return quote;
}

/** The body: the server's sanitised HTML; mentions of me marked. */
function body(message, me) {
  const node = el("div", "msg-body");
  if (typeof message.html === "string") {
    node.innerHTML = message.html; // rendered and sanitised by the server (nh3): safe
  } else {
    node.textContent = message.body; // never markup from anywhere else
    node.classList.add("is-plain");
  }
  let mentionsMe = false;
  for (const mention of node.querySelectorAll(".mention[data-user]")) {
    if (mention.dataset.user === me) {
      mention.classList.add("mention-me");
      mentionsMe = true;
    }
  }
  for (const link of node.querySelectorAll("a[href]")) {
    link.rel = "nofollow noopener noreferrer";
    link.target = "_blank";
  }
  if (message.edited) {
    const edited = el("span", "msg-edited", t("msg_edited"));
    const when = parseTime(message.edited);
    if (when) {
      edited.title = t("msg_edited_at", { time: fullTime(when, formatOptions()) });
    }
    (node.lastElementChild?.tagName === "P" ? node.lastElementChild : node).append(" ", edited);
  }
  return { node, mentionsMe };
}

/**
 * The reactions under a message.
 * @param {object} message
 * @param {MessageContext} ctx
 */
export function reactionsRow(message, ctx) {
  const summary = reactionSummary(message.reactions, ctx.me);
  const row = el("div", "reactions");
  row.hidden = summary.length === 0;
  for (const r of summary) {
    const chip = button(`reaction${r.mine ? " is-mine" : ""}`);
    chip.dataset.action = "toggle-reaction";
    chip.dataset.emoji = r.emoji;
    chip.setAttribute("aria-pressed", r.mine ? "true" : "false");
    chip.title = nameList(r.users);
    chip.setAttribute("aria-label", t("reaction_label", { emoji: r.emoji, count: r.count, names: nameList(r.users) }));
    chip.disabled = !ctx.canPost;
    chip.append(el("span", "reaction-emoji", r.emoji), el("span", "reaction-count", String(r.count)));
    row.append(chip);
  }
  if (summary.length && ctx.canPost) {
    const more = button("reaction reaction-add", null, t("action_react"));
    more.dataset.action = "react";
    more.title = t("action_react");
    more.append(icon("smile", 15));
    row.append(more);
  }
  return row;
}

function action(name, iconName, label, extra = "") {
  const node = button(`msg-action${extra ? ` ${extra}` : ""}`, null, label);
  node.dataset.action = name;
  node.title = label;
  node.append(icon(iconName, 16));
  return node;
}

/**
 * A message of the room.
 * @param {object} message the contract's message object
 * @param {MessageContext} ctx
 */
export function renderMessage(message, ctx) {
  const { li, content, row } = frame(message.author, parseTime(message.created), message.author_bot === true);
  li.id = messageElementId(message.id);
  li.dataset.id = String(message.id);
  const mine = message.author === ctx.me;
  li.classList.toggle("is-mine", mine);
  if (message.reply_to && Number.isSafeInteger(message.reply_to.id)) {
    content.append(replyQuote(message.reply_to));
    li.classList.add("has-reply");
  }
  const { node, mentionsMe } = body(message, ctx.me);
  li.classList.toggle("is-mention", mentionsMe && !mine);
  content.append(node);
  if (Array.isArray(message.attachments) && message.attachments.length) {
    node.hidden = !node.textContent.trim(); // a message of files alone
    content.append(renderAttachments(message.attachments));
  }
  content.append(reactionsRow(message, ctx));

  const actions = el("div", "msg-actions");
  if (ctx.canPost) {
    actions.append(action("react", "smile", t("action_react")), action("reply", "reply", t("action_reply")));
  }
  if (mine) {
    actions.append(action("edit", "edit", t("action_edit")));
  } else {
    actions.append(action("report", "flag", t("action_report")));
  }
  if (mine || ctx.moderator) {
    actions.append(action("delete", "trash", t("action_delete"), "msg-action-danger"));
  }
  row.append(actions);
  return li;
}

/**
 * A message of mine on its way (an outbox entry).
 * @param {import("../core/outbox.js").OutboxEntry} entry
 * @param {string} me
 * @param {object|undefined} original the message it answers, if held
 */
export function renderPending(entry, me, original) {
  const { li, content, row } = frame(me, null);
  li.classList.add("is-pending", "is-mine");
  li.dataset.clientId = entry.clientId;
  if (entry.replyTo !== null) {
    content.append(
      replyQuote({ id: entry.replyTo, author: original?.author ?? "", excerpt: oneLine(original?.body ?? "", EXCERPT) })
    );
  }
  const text = el("div", "msg-body is-plain", entry.body);
  const status = el("div", "msg-status");
  status.setAttribute("aria-live", "polite");
  content.append(text);
  if (entry.files?.length) {
    text.hidden = !entry.body.trim();
    content.append(renderAttachments(entry.files));
  }
  row.append(status);
  return li;
}

/**
 * The status line of an outbox entry, and its buttons.
 * @param {HTMLElement} li
 * @param {import("../core/outbox.js").OutboxEntry} entry
 * @param {{connected: boolean, closed: boolean, slowMode: boolean, localTimes: (text: string) => string}} how
 */
export function updatePending(li, entry, how) {
  const waitFor = entry.retryAt ? Math.max(1, Math.ceil((entry.retryAt - Date.now()) / 1000)) : 0;
  let text;
  if (how.closed && entry.state !== "failed") {
    text = t("pending_not_sent");
  } else if (entry.state === "failed") {
    text = t("pending_failed", { reason: how.localTimes(errorText(entry.error || {})) });
  } else if (entry.state === "waiting") {
    text = how.slowMode ? t("pending_slow_mode", { seconds: waitFor }) : t("pending_too_fast", { seconds: waitFor });
  } else if (!how.connected) {
    text = t("pending_waiting");
  } else {
    text = t("pending_sending");
  }
  li.classList.toggle("is-failed", entry.state === "failed");
  li.classList.toggle("is-waiting", entry.state === "waiting" && !how.closed);
  const status = li.querySelector(".msg-status");
  status.replaceChildren(el("span", "msg-status-text", text));
  if (entry.state === "failed" && !how.closed) {
    const retry = button("link-button", t("pending_retry"));
    retry.dataset.action = "retry";
    const discard = button("link-button", t("pending_discard"));
    discard.dataset.action = "discard";
    status.append(retry, discard);
  }
}
