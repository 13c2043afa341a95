import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { messageFromHash, messageUrl, searchApi } from "../../chat/static/chat/core/paths.js";
import { MessageSearch, fold, highlightRanges, parseAnswer, pieceRanges } from "../../chat/static/chat/core/search.js";
import { FakeClock, flush } from "./fakes.js";

/** The marked parts of `text`, as a reader sees them: "[聊天]室". */
function marked(text, terms) {
  let out = "";
  let at = 0;
  for (const [start, end] of highlightRanges(text, terms)) {
    out += `${text.slice(at, start)}[${text.slice(start, end)}]`;
    at = end;
  }
  return out + text.slice(at);
}

describe("highlighting the terms", () => {
  test("Chinese: wherever the characters occur", () => {
    assert.equal(marked("我们的聊天室很好，聊天吧", ["聊天"]), "我们的[聊天]室很好，[聊天]吧");
    assert.equal(marked("好好学习", ["好"]), "[好好]学习"); // touching ranges are one
    assert.deepEqual(highlightRanges("去聊天室", ["聊天室"]), [[1, 4]]);
  });

  test("English: case-insensitive, at the start of a word, as the server matches", () => {
    assert.equal(marked("WebSockets and sockets, not unsocked", ["sock"]), "WebSockets and [sock]ets, not unsocked");
    assert.equal(marked("Sockets: SOCKS proxy", ["sock"]), "[Sock]ets: [SOCK]S proxy");
    assert.equal(marked("snake_case", ["case"]), "snake_[case]"); // an underscore separates words
    assert.equal(marked("聊天sockets", ["sock"]), "聊天[sock]ets"); // so does a change of script
    assert.equal(marked("v2 and 2024", ["20"]), "v2 and [20]24");
  });

  test("overlapping and touching terms are merged into one range", () => {
    assert.deepEqual(highlightRanges("聊天室", ["聊天", "天室"]), [[0, 3]]);
    assert.equal(marked("the socket server", ["socket", "sock", "server"]), "the [socket] [server]");
    assert.equal(marked("聊天天气", ["聊天", "天气"]), "[聊天天气]"); // touching
    assert.equal(marked("abcdef", ["abc", "def"]), "[abc]def"); // "def" is inside a word there
    assert.equal(marked("聊天 sockets 聊天室", ["聊天", "sock", "天室"]), "[聊天] [sock]ets [聊天室]");
  });

  test("width and case folded as the server folds them (NFKC, casefold)", () => {
    assert.equal(fold("ＳＯＣＫ"), "sock");
    assert.equal(fold("Straße"), "strasse");
    assert.equal(marked("ＳＯＣＫＥＴＳ", ["sock"]), "[ＳＯＣＫ]ＥＴＳ"); // mapped back to the original characters
    assert.equal(marked("STRASSE and Straße", ["strasse"]), "[STRASSE] and [Straße]");
    assert.equal(marked("ﬁle", ["file"]), "[ﬁle]"); // one character folds to two
    assert.equal(marked("cafe\u0301 cafe", ["café"]), "[cafe\u0301] cafe"); // a combining mark stays with its letter
    assert.equal(marked("emoji 😀 sock", ["sock"]), "emoji 😀 [sock]");
  });

  test("nothing to highlight", () => {
    assert.deepEqual(highlightRanges("", ["a"]), []);
    assert.deepEqual(highlightRanges("text", []), []);
    assert.deepEqual(highlightRanges("text", [""]), []);
    assert.deepEqual(highlightRanges("text", null), []);
  });

  test("a term across pieces of text (inline markup) is marked in each piece", () => {
    // "<strong>聊</strong>天室" and "**sock**ets"
    assert.deepEqual(pieceRanges(["聊", "天室"], ["聊天"]), [[[0, 1]], [[0, 1]]]);
    assert.deepEqual(pieceRanges(["use ", "sock", "ets"], ["sockets"]), [[], [[0, 4]], [[0, 3]]]);
    assert.deepEqual(pieceRanges(["none", "here"], ["sock"]), [[], []]);
  });
});

describe("the search's addresses", () => {
  test("the API query and a message's address", () => {
    assert.equal(searchApi({ q: "聊天 sock" }), "/api/search/?q=%E8%81%8A%E5%A4%A9+sock");
    assert.equal(searchApi({ q: "a&b", room: "general", before: 40, limit: 5 }), "/api/search/?q=a%26b&room=general&before=40&limit=5");
    assert.equal(messageUrl("dm-3-17", 42), "/rooms/dm-3-17/#msg-42");
    assert.equal(messageFromHash("#msg-42"), 42);
    assert.equal(messageFromHash("#msg-0"), null);
    assert.equal(messageFromHash("#msg-x"), null);
    assert.equal(messageFromHash("#discover"), null);
    assert.equal(messageFromHash(""), null);
  });
});

/** A server the test answers by hand: every request waits until the test says. */
class FakeServer {
  requests = [];

  get = (path, signal) =>
    new Promise((resolve, reject) => {
      const url = new URL(path, "http://chat.test");
      const request = {
        path,
        q: url.searchParams.get("q"),
        room: url.searchParams.get("room"),
        before: url.searchParams.get("before"),
        aborted: false,
        answer: (data, status = 200) => resolve({ status, data }),
        fail: () => reject(new TypeError("Failed to fetch")),
      };
      signal?.addEventListener("abort", () => {
        request.aborted = true; // a real fetch would reject; this one leaves it to the test
      });
      this.requests.push(request);
    });

  get last() {
    return this.requests.at(-1);
  }
}

function message(id, room = "general", body = "text") {
  return { id, room, author: "alice", author_bot: false, body, html: `<p>${body}</p>`, created: "2024-03-05T12:00:00+00:00" };
}

function setUp() {
  const clock = new FakeClock();
  const server = new FakeServer();
  const search = new MessageSearch({ get: server.get, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, delay: 250 });
  const states = [];
  search.on("change", (state) => states.push(state));
  return { clock, server, search, states };
}

describe("MessageSearch", () => {
  test("typing waits for a pause, then asks once for what was typed last", async () => {
    const { clock, server, search } = setUp();
    search.type("聊");
    await clock.tick(100);
    search.type("聊天");
    await clock.tick(249);
    assert.equal(server.requests.length, 0);
    await clock.tick(1);
    assert.equal(server.requests.length, 1);
    assert.equal(server.last.q, "聊天");
    assert.equal(server.last.room, null);
    assert.equal(search.state.status, "loading");
    server.last.answer({ messages: [message(9, "general", "聊天")], has_more: false, terms: ["聊天"] });
    await flush();
    assert.equal(search.state.status, "done");
    assert.equal(search.state.query, "聊天");
    assert.deepEqual(search.state.terms, ["聊天"]);
    assert.deepEqual(search.state.messages.map((m) => m.id), [9]);
    // The same words again (a space typed) ask nothing.
    search.type("聊天 ");
    await clock.tick(1000);
    assert.equal(server.requests.length, 1);
  });

  test("a stale answer is ignored: an older request's answer never replaces a newer one's", async () => {
    const { clock, server, search, states } = setUp();
    search.type("sock");
    await clock.tick(250);
    const older = server.last;
    search.type("socket");
    await clock.tick(250);
    const newer = server.last;
    assert.equal(older.aborted, true); // the newer request aborted it
    assert.equal(newer.aborted, false);
    newer.answer({ messages: [message(2, "general", "socket")], has_more: false, terms: ["socket"] });
    await flush();
    // The older answer arrives last (a fetch that ignored the abort): nothing changes.
    const seen = states.length;
    older.answer({ messages: [message(1, "general", "sock")], has_more: false, terms: ["sock"] });
    await flush();
    assert.equal(states.length, seen);
    assert.equal(search.state.query, "socket");
    assert.deepEqual(search.state.messages.map((m) => m.id), [2]);
    assert.deepEqual(search.state.terms, ["socket"]);
  });

  test("clearing the field forgets the results and what was on its way", async () => {
    const { clock, server, search } = setUp();
    search.type("sock");
    await clock.tick(250);
    const asked = server.last;
    search.type("  ");
    assert.equal(search.state.status, "idle");
    assert.equal(asked.aborted, true);
    asked.answer({ messages: [message(1)], has_more: false, terms: ["sock"] });
    await flush();
    assert.equal(search.state.status, "idle");
    assert.deepEqual(search.state.messages, []);
    // Typed and cleared before the pause ended: nothing is asked.
    search.type("x");
    search.type("");
    await clock.tick(1000);
    assert.equal(server.requests.length, 1);
  });

  test("Enter searches at once", async () => {
    const { server, search } = setUp();
    search.type("sock");
    search.submit();
    assert.equal(server.requests.length, 1);
    search.submit(); // already on its way
    assert.equal(server.requests.length, 1);
  });

  test("paging: the next page is older than the last result (before=), appended", async () => {
    const { clock, server, search } = setUp();
    search.type("sock");
    await clock.tick(250);
    assert.equal(server.last.before, null);
    server.last.answer({ messages: [message(30), message(20)], has_more: true, terms: ["sock"] });
    await flush();
    assert.equal(search.state.hasMore, true);
    assert.equal(search.more(), true);
    assert.equal(search.state.loading, "more");
    assert.equal(search.more(), false); // one page at a time
    assert.equal(server.requests.length, 2);
    assert.equal(server.last.q, "sock");
    assert.equal(server.last.before, "20");
    server.last.answer({ messages: [message(20), message(10)], has_more: false, terms: ["sock"] });
    await flush();
    assert.deepEqual(search.state.messages.map((m) => m.id), [30, 20, 10]); // each once
    assert.equal(search.state.hasMore, false);
    assert.equal(search.state.loading, null);
    assert.equal(search.more(), false); // nothing more
    assert.equal(server.requests.length, 2);
  });

  test("a new search while a page loads: the page's answer is dropped", async () => {
    const { clock, server, search } = setUp();
    search.type("sock");
    await clock.tick(250);
    server.last.answer({ messages: [message(30)], has_more: true, terms: ["sock"] });
    await flush();
    search.more();
    const page = server.last;
    search.type("socket");
    await clock.tick(250);
    assert.equal(page.aborted, true);
    page.answer({ messages: [message(5)], has_more: false, terms: ["sock"] });
    await flush();
    assert.equal(search.state.query, "socket");
    assert.equal(search.state.status, "loading");
    assert.deepEqual(search.state.messages.map((m) => m.id), [30]); // the old results, until the new ones come
  });

  test("a failed next page keeps the results and may be asked again", async () => {
    const { clock, server, search } = setUp();
    search.type("sock");
    await clock.tick(250);
    server.last.answer({ messages: [message(30)], has_more: true, terms: ["sock"] });
    await flush();
    search.more();
    server.last.answer({ error: "rate_limited", message: "You are searching too fast.", retry_after: 2.5 }, 429);
    await flush();
    assert.equal(search.state.status, "done");
    assert.deepEqual(search.state.messages.map((m) => m.id), [30]);
    assert.deepEqual(search.state.error, { code: "rate_limited", message: "You are searching too fast.", retryAfter: 2.5 });
    assert.equal(search.more(), true);
    assert.equal(search.state.error, null);
  });

  test("the room filter: room=<slug> while it is on, every room again when it is off", async () => {
    const { clock, server, search } = setUp();
    search.setRoom("general"); // nothing typed: nothing asked
    assert.equal(server.requests.length, 0);
    search.type("聊天");
    await clock.tick(250);
    assert.equal(server.last.room, "general");
    server.last.answer({ messages: [message(7, "general")], has_more: true, terms: ["聊天"] });
    await flush();
    search.more();
    assert.equal(server.last.room, "general");
    assert.equal(server.last.before, "7");
    // Turned off: asked again at once, in every room; the page on its way is dropped.
    search.setRoom(null);
    assert.equal(server.requests.length, 3);
    assert.equal(server.last.room, null);
    assert.equal(server.requests[1].aborted, true);
    assert.equal(search.state.room, null);
    server.last.answer({ messages: [message(8, "garden"), message(7, "general")], has_more: false, terms: ["聊天"] });
    await flush();
    assert.deepEqual(search.state.messages.map((m) => m.room), ["garden", "general"]);
    search.setRoom(null); // no change: nothing asked
    assert.equal(server.requests.length, 3);
    assert.equal(search.room, null);
  });

  test("errors: the server's code and words; no answer at all; Enter tries again", async () => {
    const { clock, server, search } = setUp();
    search.type("x".repeat(201));
    await clock.tick(250);
    server.last.answer({ error: "too_long", message: "A search is at most 200 characters." }, 400);
    await flush();
    assert.equal(search.state.status, "error");
    assert.deepEqual(search.state.error, { code: "too_long", message: "A search is at most 200 characters.", retryAfter: null });
    search.type("sock");
    await clock.tick(250);
    server.last.fail();
    await flush();
    assert.equal(search.state.status, "error");
    assert.equal(search.state.error.code, "network");
    search.submit();
    assert.equal(server.requests.length, 3);
    server.last.answer({ messages: [], has_more: false, terms: [] }); // punctuation only: nothing
    await flush();
    assert.equal(search.state.status, "done");
    assert.deepEqual(search.state.messages, []);
  });

  test("an answer's odd parts are left out", () => {
    assert.deepEqual(parseAnswer({ status: 200, data: { messages: [message(1), { id: "2" }, null], has_more: 1, terms: ["a", 3, ""] } }), {
      messages: [message(1)],
      terms: ["a"],
      hasMore: false,
    });
    assert.deepEqual(parseAnswer({ status: 502, data: null }), { error: { code: "unavailable", message: "", retryAfter: null } });
    assert.deepEqual(parseAnswer(null), { error: { code: "network", message: "", retryAfter: null } });
  });
});
