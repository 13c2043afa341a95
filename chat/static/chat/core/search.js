/*
 * Searching messages (GET /api/search/, contract "Search (v2)"), without the DOM: what is
 * typed waits for a pause, then one request at a time (a newer one aborts the older, and an
 * answer that is not the newest request's is dropped, so an older answer never replaces a
 * newer one), the next page older than the last result, the room filter; and where the
 * server's `terms` occur in a message's text, to highlight them.
 *
 * The server found the messages; the client only shows where. Terms come normalised (NFKC,
 * case folded), so the text is folded the same way before it is compared, and each match is
 * mapped back to the characters it came from.
 */
import { MESSAGE_SEARCH_DELAY } from "./constants.js";
import { Emitter } from "./emitter.js";
import { searchApi } from "./paths.js";

// Scripts written without spaces between words (chat/search.py's _CJK): Han, Hiragana,
// Katakana, Hangul and their compatibility and extension blocks.
const CJK =
  "\\u2e80-\\u2fff\\u3005-\\u3007\\u3021-\\u3029\\u3031-\\u3035\\u3038-\\u303c\\u3040-\\u30ff" +
  "\\u3100-\\u312f\\u3131-\\u318f\\u31a0-\\u31bf\\u31f0-\\u31ff\\u3400-\\u4dbf\\u4e00-\\u9fff" +
  "\\ua960-\\ua97f\\uac00-\\ud7af\\uf900-\\ufaff\\u{20000}-\\u{3134f}";
const CJK_CHAR = new RegExp(`^[${CJK}]`, "u");
/** A letter or digit of a spaced script: what the server's words are made of. */
const WORD_CHAR = /^[\p{L}\p{N}]/u;
/** A character with the combining marks after it: folded together, highlighted together. */
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gu;

/**
 * Text as the server compares it: NFKC, then case folded (JavaScript has no casefold():
 * lower case, and the two letters whose folding differs from it in common text).
 * @param {string} text
 */
export function fold(text) {
  return String(text).normalize("NFKC").toLowerCase().replace(/ß/g, "ss").replace(/ς/g, "σ");
}

/** Whether `char` belongs to a word of a spaced script (a match inside one is not a word's start). */
function inWord(char) {
  return char !== "" && WORD_CHAR.test(char) && !CJK_CHAR.test(char);
}

/** The character (a whole surrogate pair) that ends at `index` of `text`. */
function charBefore(text, index) {
  if (index <= 0) {
    return "";
  }
  const low = text.charCodeAt(index - 1);
  const pair = index >= 2 && low >= 0xdc00 && low <= 0xdfff;
  return text.slice(pair ? index - 2 : index - 1, index);
}

/**
 * Where `terms` occur in `text`: sorted, overlapping and touching ranges merged. A term of
 * a spaced script matches at the start of a word (`sock` in "sockets", not in "unsocked"),
 * as the server matches it; Chinese matches anywhere. Case and width do not matter.
 * @param {string} text
 * @param {string[]} terms the answer's `terms`
 * @returns {Array<[number, number]>} [start, end) offsets into `text`
 */
export function highlightRanges(text, terms) {
  const source = String(text ?? "");
  const wanted = [...new Set((Array.isArray(terms) ? terms : []).filter((term) => typeof term === "string").map(fold))].filter(Boolean);
  if (!source || !wanted.length) {
    return [];
  }
  // The folded text, and for each of its code units the original cluster it came from.
  let folded = "";
  const from = [];
  const to = [];
  for (const match of source.matchAll(CLUSTER)) {
    const part = fold(match[0]);
    for (let i = 0; i < part.length; i += 1) {
      from.push(match.index);
      to.push(match.index + match[0].length);
    }
    folded += part;
  }
  const found = [];
  for (const term of wanted) {
    const atWordStart = inWord(String.fromCodePoint(term.codePointAt(0)));
    for (let at = folded.indexOf(term); at !== -1; at = folded.indexOf(term, at + 1)) {
      if (atWordStart && inWord(charBefore(folded, at))) {
        continue;
      }
      found.push([from[at], to[at + term.length - 1]]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged = [];
  for (const [start, end] of found) {
    const last = merged.at(-1);
    if (last && start <= last[1]) {
      last[1] = Math.max(last[1], end);
    } else {
      merged.push([start, end]);
    }
  }
  return merged;
}

/**
 * highlightRanges over pieces of one run of text (the text nodes of a paragraph, split by
 * its inline markup: a term may cross them), each piece's ranges in its own offsets.
 * @param {string[]} pieces
 * @param {string[]} terms
 * @returns {Array<Array<[number, number]>>} one list of [start, end) per piece
 */
export function pieceRanges(pieces, terms) {
  const ranges = highlightRanges(pieces.join(""), terms);
  let offset = 0;
  return pieces.map((piece) => {
    const start = offset;
    const end = offset + piece.length;
    offset = end;
    return ranges
      .filter(([s, e]) => s < end && e > start)
      .map(([s, e]) => [Math.max(s, start) - start, Math.min(e, end) - start]);
  });
}

function isMessage(message) {
  return !!message && typeof message === "object" && Number.isSafeInteger(message.id) && typeof message.room === "string";
}

/**
 * @typedef {object} SearchError
 * @property {string} code the server's (`invalid`, `too_long`, `rate_limited`, `forbidden`,
 *   `not_found`...), or `network` when no answer came
 * @property {string} message the server's words ("" when it said none)
 * @property {number|null} retryAfter seconds, for `rate_limited`
 */

/**
 * @typedef {object} SearchState
 * @property {"idle"|"loading"|"done"|"error"} status idle: nothing to look for; loading: the
 *   first page is on its way (the previous results stay until it comes); error: it failed
 * @property {string} query what the results are for (trimmed)
 * @property {string|null} room the room they are limited to
 * @property {object[]} messages newest first
 * @property {string[]} terms what to highlight
 * @property {boolean} hasMore older results wait: more() loads them
 * @property {"first"|"more"|null} loading
 * @property {SearchError|null} error the last request's failure (a failed next page keeps the results)
 */

const IDLE = Object.freeze({
  status: "idle",
  query: "",
  room: null,
  messages: [],
  terms: [],
  hasMore: false,
  loading: null,
  error: null,
});

/**
 * Events: "change" `SearchState` after every change of `state`.
 */
export class MessageSearch extends Emitter {
  #get;
  #setTimeout;
  #clearTimeout;
  #Abort;
  #delay;
  #limit;
  #timer = null;
  #controller = null;
  #asked = 0; // the newest request's number: only its answer counts
  #typed = "";
  #room = null;
  #state = IDLE;

  /**
   * @param {object} deps
   * @param {(path: string, signal?: AbortSignal) => Promise<{status: number, data: any}>} deps.get
   *   a GET of the site with the session's cookie: the HTTP status and the parsed JSON body
   *   (null when there was none); rejects when no answer came (or it was aborted)
   * @param {typeof setTimeout} deps.setTimeout
   * @param {typeof clearTimeout} deps.clearTimeout
   * @param {typeof AbortController} [deps.AbortController]
   * @param {number} [deps.delay] the pause after typing before asking
   * @param {number|null} [deps.limit] results a page (the server's default when null)
   */
  constructor({ get, setTimeout, clearTimeout, AbortController = globalThis.AbortController, delay = MESSAGE_SEARCH_DELAY, limit = null }) {
    super();
    this.#get = get;
    this.#setTimeout = setTimeout;
    this.#clearTimeout = clearTimeout;
    this.#Abort = AbortController;
    this.#delay = delay;
    this.#limit = limit;
  }

  /** @returns {SearchState} */
  get state() {
    return this.#state;
  }

  /** The room the search is limited to, or null for every room I may open. */
  get room() {
    return this.#room;
  }

  /**
   * The field's text changed: it is searched for after a pause (nothing, at once, clears).
   * @param {string} text
   */
  type(text) {
    this.#typed = String(text ?? "").trim();
    this.#stopTimer();
    if (!this.#typed) {
      this.clear();
      return;
    }
    if (this.#current()) {
      return; // what is shown, or on its way, is for this already (a space was typed)
    }
    this.#timer = this.#setTimeout(() => {
      this.#timer = null;
      this.#first();
    }, this.#delay);
  }

  /** Search now, without waiting for the pause (Enter); again after a failure. */
  submit() {
    this.#stopTimer();
    if (this.#typed && (!this.#current() || this.#state.status === "error")) {
      this.#first();
    }
  }

  /**
   * Limit the search to a room, or not (null); what is typed is searched again at once.
   * @param {string|null} slug
   */
  setRoom(slug) {
    const room = slug || null;
    if (room === this.#room) {
      return;
    }
    this.#room = room;
    if (this.#typed) {
      this.#stopTimer();
      this.#first();
    }
  }

  /**
   * The next page: results older than the last one shown.
   * @returns {boolean} whether it was asked for
   */
  more() {
    const state = this.#state;
    const last = state.messages.at(-1);
    if (state.status !== "done" || !state.hasMore || state.loading !== null || !last) {
      return false;
    }
    this.#set({ loading: "more", error: null });
    this.#request({ q: state.query, room: state.room, before: last.id }).then((answer) => {
      if (answer === null) {
        return; // a newer request replaced it
      }
      if (answer.error) {
        this.#set({ loading: null, error: answer.error });
        return;
      }
      const held = new Set(this.#state.messages.map((m) => m.id));
      this.#set({
        messages: [...this.#state.messages, ...answer.messages.filter((m) => !held.has(m.id))],
        hasMore: answer.hasMore && answer.messages.length > 0,
        loading: null,
      });
    });
    return true;
  }

  /** Forget the search: nothing typed, nothing shown, nothing on its way. */
  clear() {
    this.#typed = "";
    this.#stopTimer();
    this.#abort();
    this.#asked += 1; // whatever is still on its way is stale
    if (this.#state !== IDLE) {
      this.#state = IDLE;
      this.emit("change", this.#state);
    }
  }

  /** Whether the results shown (or coming) are for what is typed now, in the room chosen now. */
  #current() {
    const state = this.#state;
    return state.status !== "idle" && state.query === this.#typed && state.room === this.#room;
  }

  #first() {
    const query = this.#typed;
    const room = this.#room;
    this.#set({ status: "loading", query, room, loading: "first", error: null });
    this.#request({ q: query, room, before: null }).then((answer) => {
      if (answer === null) {
        return;
      }
      if (answer.error) {
        this.#set({ status: "error", messages: [], terms: [], hasMore: false, loading: null, error: answer.error });
        return;
      }
      this.#set({ status: "done", messages: answer.messages, terms: answer.terms, hasMore: answer.hasMore, loading: null });
    });
  }

  /**
   * Ask, aborting what was asked before.
   * @returns {Promise<{messages: object[], terms: string[], hasMore: boolean, error?: undefined}|{error: SearchError}|null>}
   *   null when a newer request (or clear()) came meanwhile: the answer is for nobody
   */
  async #request({ q, room, before }) {
    this.#abort();
    const number = ++this.#asked;
    const controller = this.#Abort ? new this.#Abort() : null;
    this.#controller = controller;
    let answer;
    try {
      answer = await this.#get(searchApi({ q, room, before, limit: this.#limit }), controller?.signal);
    } catch {
      answer = null; // no answer: the network, or aborted (then stale anyway)
    }
    if (number !== this.#asked) {
      return null;
    }
    this.#controller = null;
    return parseAnswer(answer);
  }

  #abort() {
    this.#controller?.abort();
    this.#controller = null;
  }

  #stopTimer() {
    if (this.#timer !== null) {
      this.#clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #set(changes) {
    this.#state = Object.freeze({ ...this.#state, ...changes });
    this.emit("change", this.#state);
  }
}

/**
 * What an answer says: a page of results, or why not.
 * @param {{status: number, data: any}|null} answer null when none came
 */
export function parseAnswer(answer) {
  const data = answer?.data;
  if (answer && answer.status >= 200 && answer.status < 300 && data && Array.isArray(data.messages)) {
    return {
      messages: data.messages.filter(isMessage),
      terms: Array.isArray(data.terms) ? data.terms.filter((term) => typeof term === "string" && term) : [],
      hasMore: data.has_more === true,
    };
  }
  if (!answer) {
    return { error: { code: "network", message: "", retryAfter: null } };
  }
  return {
    error: {
      code: typeof data?.error === "string" ? data.error : "unavailable",
      message: typeof data?.message === "string" ? data.message : "",
      retryAfter: typeof data?.retry_after === "number" && data.retry_after >= 0 ? data.retry_after : null,
    },
  };
}
