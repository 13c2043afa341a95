/*
 * The message search in the header: a combobox whose listbox shows what GET /api/search/
 * found (core/search.js asks, pages and drops stale answers), each result with its room,
 * author, time and body, the words looked for marked. Ctrl+K (⌘K) or "/" focus the field,
 * the arrow keys and Enter choose a result, Escape closes the results.
 *
 * Choosing a result opens its room at that message: `open(message)` where the page can show
 * it in place (the room page), else the message's address (/rooms/<slug>/#msg-<id>).
 */
import { messageUrl } from "../core/paths.js";
import { MessageSearch, pieceRanges } from "../core/search.js";
import { fullTime, parseTime, shortTime } from "../core/time.js";
import { byId, el, icon, isModifiedClick, markActiveOption } from "./dom.js";
import { roomLabel } from "./header.js";
import { errorText, formatOptions, t } from "./strings.js";

/** GET a JSON document of the site, whatever its status: the status and the body (null if none). */
async function getJson(path, signal) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" }, signal });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // not JSON (a proxy's error page)
  }
  return { status: response.status, data };
}

/** Elements that end a run of text: a term is not looked for across them. */
const BREAKS = new Set(["P", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "BR", "DIV"]);

/** The text nodes under `root`, in runs (a paragraph, a list item, a line). */
function textRuns(root) {
  const runs = [[]];
  const walk = (node) => {
    for (const child of [...node.childNodes]) {
      if (child.nodeType === Node.TEXT_NODE) {
        runs.at(-1).push(child);
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        const breaks = BREAKS.has(child.tagName);
        if (breaks) {
          runs.push([]);
        }
        walk(child);
        if (breaks) {
          runs.push([]);
        }
      }
    }
  };
  walk(root);
  return runs.filter((run) => run.length);
}

/**
 * Wrap each occurrence of `terms` in the text under `root` in a <mark>: text node by text
 * node, the markup left as it is (never a replace in the HTML).
 * @param {HTMLElement} root
 * @param {string[]} terms
 */
export function markTerms(root, terms) {
  if (!terms.length) {
    return;
  }
  for (const run of textRuns(root)) {
    const ranges = pieceRanges(run.map((node) => node.data), terms);
    run.forEach((node, i) => {
      if (!ranges[i].length) {
        return;
      }
      const text = node.data;
      const parts = [];
      let at = 0;
      for (const [start, end] of ranges[i]) {
        if (start > at) {
          parts.push(text.slice(at, start));
        }
        parts.push(el("mark", null, text.slice(start, end)));
        at = end;
      }
      if (at < text.length) {
        parts.push(text.slice(at));
      }
      node.replaceWith(...parts);
    });
  }
}

/** A result's room: "#general", a lock and "Plans", "@bob". */
function roomTag(slug, entry) {
  const tag = el("span", "site-search-room");
  if (!entry) {
    tag.textContent = `#${slug}`;
    return tag;
  }
  if (entry.kind === "private") {
    tag.append(icon("lock", 11));
  }
  tag.append(roomLabel({ kind: entry.kind, name: entry.name }, entry.title));
  return tag;
}

/**
 * One result: an option holding a link to the message.
 * @param {object} message
 * @param {string[]} terms
 * @param {object|undefined} entry its room's conversation entry (for its name)
 */
function renderHit(message, terms, entry) {
  const option = el("li", "site-search-option");
  option.id = `site-search-hit-${message.id}`;
  option.dataset.id = String(message.id);
  option.setAttribute("role", "option");
  option.setAttribute("aria-selected", "false");
  const link = el("a", "site-search-hit");
  link.href = messageUrl(message.room, message.id);
  link.tabIndex = -1;

  const head = el("span", "site-search-head");
  head.append(roomTag(message.room, entry), el("span", "site-search-author", message.author ?? ""));
  if (message.author_bot) {
    head.append(el("span", "badge-bot", t("msg_bot")));
  }
  const date = parseTime(message.created);
  if (date) {
    const options = formatOptions();
    const time = el("time", "site-search-time", shortTime(date, { ...options, now: new Date() }));
    time.dateTime = date.toISOString();
    time.title = fullTime(date, options);
    head.append(time);
  }

  const body = el("div", "msg-body site-search-body");
  if (typeof message.html === "string") {
    body.innerHTML = message.html; // rendered and sanitised by the server (nh3): safe
  } else {
    body.textContent = message.body ?? "";
  }
  // The whole result is a link: the message's own links become text in it.
  for (const inner of body.querySelectorAll("a")) {
    const text = el("span", "site-search-link");
    text.append(...inner.childNodes);
    inner.replaceWith(text);
  }
  markTerms(body, terms);
  link.append(head, body);
  option.append(link);
  return option;
}

/** A long body shows a few lines: the first mark is scrolled into them. */
function revealMark(option) {
  const body = option.querySelector(".site-search-body");
  const mark = body?.querySelector("mark");
  if (mark && mark.offsetTop + mark.offsetHeight > body.clientHeight) {
    body.scrollTop = Math.max(0, mark.offsetTop - body.clientHeight / 3);
  }
}

/** Whether keys typed at `target` are text (then "/" is a slash, not the shortcut). */
function isTyping(target) {
  return target instanceof Element && (target.isContentEditable || target.closest("input, textarea, select") !== null);
}

export class SearchView {
  #search;
  #ui;
  #conversations;
  #here;
  #open;
  #wanted = false; // the results should show (the field was used since they were closed)
  #active = -1;
  #items = new Map(); // message id -> its option, for the terms of #itemsFor
  #itemsFor = null;
  #unrevealed = new Set(); // options whose first mark may need scrolling to, once they show

  /**
   * @param {object} options
   * @param {HTMLElement} options.box #site-search
   * @param {import("../core/conversations.js").Conversations} options.conversations rooms' names
   * @param {() => string|null} [options.here] the room on screen, for "Search in this room only"
   * @param {((message: object) => void)|null} [options.open] show a message in place (else its address loads)
   */
  constructor({ box, conversations, here = () => null, open = null }) {
    this.#conversations = conversations;
    this.#here = here;
    this.#open = open;
    this.#ui = {
      box,
      input: byId("site-search-input"),
      key: byId("site-search-key"),
      panel: byId("site-search-panel"),
      scope: byId("site-search-here"),
      status: byId("site-search-status"),
      list: byId("site-search-results"),
      more: byId("site-search-more"),
    };
    this.#search = new MessageSearch({
      get: getJson,
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (id) => window.clearTimeout(id),
    });
    this.#search.on("change", () => this.#render());
    this.#listen();
    const mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
    this.#ui.key.textContent = t(mac ? "search_key_mac" : "search_key");
    this.#ui.key.hidden = false;
  }

  /** Focus the field, its text selected, its results shown again (Ctrl+K, "/"). */
  focus() {
    this.#ui.input.focus();
    this.#ui.input.select();
    this.#show(true);
  }

  /** Close the results (the field keeps its text). */
  close() {
    this.#show(false);
  }

  /** The room on screen changed: a search limited to "this room" follows it. */
  roomChanged() {
    if (this.#ui.scope?.checked) {
      this.#search.setRoom(this.#here());
    }
  }

  #listen() {
    const { box, input, list, more, scope } = this.#ui;
    input.addEventListener("input", (event) => {
      if (event.isComposing) {
        return; // an input method is still composing: its text is not what is meant yet
      }
      this.#wanted = true;
      this.#search.type(input.value);
    });
    input.addEventListener("compositionend", () => {
      this.#wanted = true;
      this.#search.type(input.value);
    });
    input.addEventListener("focus", () => this.#show(true));
    input.addEventListener("keydown", (event) => this.#key(event));
    // Escape from anywhere in the panel (the checkbox, "Load more") closes it too.
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && event.target !== input && this.#isOpen) {
        event.preventDefault();
        event.stopPropagation();
        this.#show(false);
        input.focus();
      }
    });
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (!option || isModifiedClick(event)) {
        return; // a new tab or window: the link's address
      }
      event.preventDefault();
      this.#choose(Number(option.dataset.id));
    });
    more.addEventListener("click", () => this.#search.more());
    scope?.addEventListener("change", () => {
      this.#search.setRoom(scope.checked ? this.#here() : null);
    });
    document.addEventListener("click", (event) => {
      if (!box.contains(event.target)) {
        this.#show(false);
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.isComposing || event.altKey) {
        return;
      }
      const commandK = (event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "k";
      const slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !isTyping(event.target);
      if ((commandK || slash) && !document.querySelector("dialog[open]")) {
        event.preventDefault();
        this.focus();
      }
    });
  }

  #key(event) {
    if (event.isComposing || event.keyCode === 229) {
      return; // Enter confirms an input method's text, not the search
    }
    const options = this.#options();
    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && options.length) {
      event.preventDefault();
      this.#show(true);
      const down = event.key === "ArrowDown";
      this.#setActive(down ? (this.#active + 1) % options.length : this.#active <= 0 ? options.length - 1 : this.#active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (this.#isOpen && this.#active >= 0 && options[this.#active]) {
        this.#choose(Number(options[this.#active].dataset.id));
      } else {
        this.#wanted = true;
        this.#search.submit();
        this.#show(true);
      }
    } else if (event.key === "Escape" && this.#isOpen) {
      event.preventDefault(); // not the field's own Escape, which empties it
      event.stopPropagation();
      this.#show(false);
    }
  }

  get #isOpen() {
    return !this.#ui.panel.hidden;
  }

  #options() {
    return [...this.#ui.list.querySelectorAll("[role=option]")];
  }

  #choose(id) {
    const message = this.#search.state.messages.find((m) => m.id === id);
    if (!message) {
      return;
    }
    this.#show(false);
    if (this.#open) {
      this.#open(message);
    } else {
      window.location.assign(messageUrl(message.room, message.id));
    }
  }

  /** Show the results (when there is something to show), or close them. */
  #show(open) {
    this.#wanted = open;
    const visible = open && this.#search.state.status !== "idle";
    this.#ui.panel.hidden = !visible;
    this.#ui.input.setAttribute("aria-expanded", visible ? "true" : "false");
    if (!visible) {
      this.#setActive(-1);
    } else if (this.#unrevealed.size) {
      const options = [...this.#unrevealed];
      this.#unrevealed.clear();
      window.requestAnimationFrame(() => options.forEach(revealMark)); // once they are laid out
    }
  }

  #setActive(index) {
    this.#active = index;
    markActiveOption(this.#ui.input, this.#options(), index);
  }

  #render() {
    const state = this.#search.state;
    const { list, status, more } = this.#ui;
    if (state.status === "idle") {
      list.replaceChildren();
      this.#items.clear();
      this.#unrevealed.clear();
      status.textContent = "";
      more.hidden = true;
      this.#show(this.#wanted);
      return;
    }
    if (state.loading === "first") {
      this.#setActive(-1);
    }

    // The results: the options already built are kept (a next page adds to them).
    const termsKey = state.terms.join("\n");
    if (this.#itemsFor !== termsKey) {
      this.#items.clear();
      this.#itemsFor = termsKey;
    }
    const items = new Map();
    const fresh = [];
    for (const message of state.messages) {
      let option = this.#items.get(message.id);
      if (!option) {
        option = renderHit(message, state.terms, this.#conversations.get(message.room));
        fresh.push(option);
      }
      items.set(message.id, option);
    }
    this.#items = items;
    const shown = [...items.values()];
    const current = [...list.children];
    if (shown.length !== current.length || shown.some((option, i) => option !== current[i])) {
      list.replaceChildren(...shown);
    }

    // What the search came to: busy, nothing, an error; how many (for screen readers) else.
    let text = "";
    let quiet = false;
    const error = state.error;
    if (error) {
      if (error.code === "rate_limited") {
        text = error.retryAfter
          ? t("search_rate_limited", { seconds: Math.max(1, Math.ceil(error.retryAfter)) })
          : t("search_rate_limited_moment");
      } else if (error.code === "network") {
        text = t("search_no_answer");
      } else {
        // The API answers in the page's language (the request carries its cookie): its
        // words say more ("at most 200 characters") than ours for the code.
        text = error.message || t("search_failed", { reason: errorText(error) });
      }
    } else if (state.loading === "first") {
      text = t("search_searching");
    } else if (!state.messages.length) {
      text = t(state.room ? "search_none_here" : "search_none", { query: state.query });
    } else {
      quiet = true;
      const count = state.messages.length;
      text = state.hasMore ? t("search_found_more", { count }) : t("search_found", { count });
    }
    status.textContent = text;
    status.classList.toggle("visually-hidden", quiet);
    status.classList.toggle("is-error", !!error);

    more.hidden = !(state.status === "done" && state.hasMore);
    more.disabled = state.loading === "more";
    more.textContent = state.loading === "more" ? t("search_loading_more") : t("search_load_more");

    for (const option of fresh) {
      this.#unrevealed.add(option);
    }
    this.#show(this.#wanted);
  }
}

/**
 * The header's search, where the page has one.
 * @param {Omit<ConstructorParameters<typeof SearchView>[0], "box">} options
 * @returns {SearchView|null}
 */
export function setUpSearch(options) {
  const box = byId("site-search");
  return box ? new SearchView({ box, ...options }) : null;
}
