import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { RECENT_EMOJI } from "../../chat/static/chat/core/constants.js";
import { COMMON_EMOJI, RecentEmoji, reactionSummary } from "../../chat/static/chat/core/emoji.js";

function memoryStorage(initial = {}) {
  const data = { ...initial };
  return {
    data,
    getItem: (key) => (key in data ? data[key] : null),
    setItem: (key, value) => {
      data[key] = String(value);
    },
  };
}

describe("RecentEmoji", () => {
  test("the last used comes first, each once, at most RECENT_EMOJI, and is remembered", () => {
    const storage = memoryStorage();
    const recent = new RecentEmoji(storage);
    assert.deepEqual(recent.list, []);
    recent.use("🎉");
    recent.use("👍");
    recent.use("🎉");
    assert.deepEqual(recent.list, ["🎉", "👍"]);
    assert.deepEqual(new RecentEmoji(storage).list, ["🎉", "👍"]);
    for (const e of ["a", "b", "c", "d", "e", "f", "g", "h", "i"]) {
      recent.use(e);
    }
    assert.equal(recent.list.length, RECENT_EMOJI);
    assert.equal(recent.list[0], "i");
  });

  test("the picker shows the recent ones, then the common ones not among them", () => {
    const recent = new RecentEmoji(memoryStorage({ "chat.recent-emoji": JSON.stringify(["🦄", "👍"]) }));
    const choices = recent.choices();
    assert.deepEqual(choices.slice(0, 2), ["🦄", "👍"]);
    assert.equal(choices.filter((e) => e === "👍").length, 1);
    assert.equal(choices.length, 2 + COMMON_EMOJI.length - 1);
  });

  test("storage that is missing, broken or full does not break the picker", () => {
    assert.deepEqual(new RecentEmoji(null).list, []);
    assert.deepEqual(new RecentEmoji(memoryStorage({ "chat.recent-emoji": "{not json" })).list, []);
    assert.deepEqual(new RecentEmoji(memoryStorage({ "chat.recent-emoji": '{"a": 1}' })).list, []);
    const full = {
      getItem: () => null,
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
    };
    const recent = new RecentEmoji(full);
    recent.use("👍");
    assert.deepEqual(recent.list, ["👍"]);
  });
});

describe("reactionSummary", () => {
  test("counts, who, and whether I am among them, in the server's order", () => {
    const summary = reactionSummary(
      [
        { emoji: "👍", users: ["alice", "bob"] },
        { emoji: "🎉", users: ["bob"] },
        { emoji: "x", users: [] },
        null,
      ],
      "alice"
    );
    assert.deepEqual(summary, [
      { emoji: "👍", count: 2, users: ["alice", "bob"], mine: true },
      { emoji: "🎉", count: 1, users: ["bob"], mine: false },
    ]);
    assert.deepEqual(reactionSummary(undefined, "alice"), []);
  });
});
