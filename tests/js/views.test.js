/*
 * What the views decide without the DOM: words, grouping, order. (Their DOM work is covered by
 * the browser tests, tests/browser/.)
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";

import { extensionOf, fitSize, safeUrl } from "../../chat/static/chat/views/attachments.js";
import { typingText } from "../../chat/static/chat/views/composer.js";
import { roomLabel } from "../../chat/static/chat/views/header.js";
import { groupFlags } from "../../chat/static/chat/views/log.js";
import { sortMembers } from "../../chat/static/chat/views/members.js";
import { describeNotify } from "../../chat/static/chat/views/notifications.js";
import { sortEntries } from "../../chat/static/chat/views/sidebar.js";
import { fileSize, has, uploadErrorText } from "../../chat/static/chat/views/strings.js";

const VIEWS = new URL("../../chat/static/chat/views/", import.meta.url);
const ENTRIES = new URL("../../chat/static/chat/", import.meta.url);

describe("strings", () => {
  test("every key a view or an entry module asks for is in the catalog", () => {
    const files = [
      ...readdirSync(VIEWS).map((name) => new URL(name, VIEWS)),
      ...readdirSync(ENTRIES)
        .filter((name) => name.endsWith(".js"))
        .map((name) => new URL(name, ENTRIES)),
    ];
    const missing = [];
    for (const file of files) {
      const source = readFileSync(file, "utf8");
      // t("key"...) and the keys chosen in a ternary inside t(...), not what is compared there
      for (const match of source.matchAll(/\bt\(\s*([^,)]*)/g)) {
        for (const key of match[1].matchAll(/(?<![=!]==\s*)"([a-z_]+)"/g)) {
          if (!has(key[1])) {
            missing.push(`${file.pathname.split("/").pop()}: ${key[1]}`);
          }
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe("the log's grouping", () => {
  const tz = "UTC";
  const at = (h, m) => Date.UTC(2024, 2, 5, h, m);

  test("the same author within five minutes continues; a new day, a gap, another author do not", () => {
    const first = { author: "alice", ts: at(10, 0) };
    assert.deepEqual(groupFlags(null, { ...first, firstUnread: false, reply: false }, tz), { newDay: true, continued: false });
    assert.deepEqual(groupFlags(first, { author: "alice", ts: at(10, 4), firstUnread: false, reply: false }, tz), {
      newDay: false,
      continued: true,
    });
    assert.equal(groupFlags(first, { author: "alice", ts: at(10, 6), firstUnread: false, reply: false }, tz).continued, false);
    assert.equal(groupFlags(first, { author: "bob", ts: at(10, 1), firstUnread: false, reply: false }, tz).continued, false);
    assert.deepEqual(groupFlags(first, { author: "alice", ts: Date.UTC(2024, 2, 6, 0, 1), firstUnread: false, reply: false }, tz), {
      newDay: true,
      continued: false,
    });
  });

  test("the first unread message and a reply show their author again", () => {
    const first = { author: "alice", ts: at(10, 0) };
    assert.equal(groupFlags(first, { author: "alice", ts: at(10, 1), firstUnread: true, reply: false }, tz).continued, false);
    assert.equal(groupFlags(first, { author: "alice", ts: at(10, 1), firstUnread: false, reply: true }, tz).continued, false);
  });

  test("days are the reader's: 23:30 UTC is the next day in Shanghai", () => {
    const late = { author: "a", ts: Date.UTC(2024, 2, 5, 15, 30) };
    const later = { author: "a", ts: Date.UTC(2024, 2, 5, 16, 30), firstUnread: false, reply: false };
    assert.equal(groupFlags(late, later, "UTC").newDay, false);
    assert.equal(groupFlags(late, later, "Asia/Shanghai").newDay, true);
  });
});

describe("orders and names", () => {
  test("the sidebar: rooms by name, direct conversations newest first", () => {
    const entries = [
      { slug: "b", title: "Beta", kind: "public", lastId: 1 },
      { slug: "a", title: "alpha", kind: "private", lastId: 9 },
      { slug: "dm-1-2", title: "zoe", kind: "direct", lastId: 50 },
      { slug: "dm-1-3", title: "amy", kind: "direct", lastId: 7 },
    ];
    const { rooms, direct } = sortEntries(entries);
    assert.deepEqual(rooms.map((e) => e.slug), ["a", "b"]);
    assert.deepEqual(direct.map((e) => e.slug), ["dm-1-2", "dm-1-3"]);
  });

  test("members: online first, then by name; someone online but not listed still shows", () => {
    assert.deepEqual(sortMembers(["carol", "alice", "bob"], ["bob", "dave"]), ["bob", "dave", "alice", "carol"]);
  });

  test("typing", () => {
    assert.equal(typingText([]), "");
    assert.equal(typingText(["bob"]), "bob is typing…");
    assert.equal(typingText(["bob", "carol"]), "bob and carol are typing…");
    assert.equal(typingText(["bob", "carol", "dave"]), "Several people are typing…");
  });

  test("a room's label", () => {
    assert.equal(roomLabel({ kind: "public", name: "general" }, "general"), "#general");
    assert.equal(roomLabel({ kind: "private", name: "Plans" }, "Plans"), "Plans");
    assert.equal(roomLabel({ kind: "direct", name: "alice & bob" }, "bob"), "@bob");
  });

  test("a notification names the author of a direct message, the room of a mention", () => {
    const message = { id: 1, author: "alice", body: "@bob look" };
    assert.deepEqual(describeNotify({ room: "trail-talk", room_name: "Trail talk", room_kind: "public", message }), {
      title: "alice mentioned you in #Trail talk",
      direct: false,
    });
    assert.deepEqual(describeNotify({ room: "dm-1-2", message }, { kind: "direct", name: "alice & bob" }), {
      title: "New message from alice",
      direct: true,
    });
    assert.equal(describeNotify({ room: "x", message }, { kind: "public", name: "Ex" }).title, "alice mentioned you in #Ex");
  });
});

describe("files on screen", () => {
  test("an image keeps its proportions inside the box, and is never enlarged", () => {
    assert.deepEqual(fitSize(1920, 1080, 360, 270), { width: 360, height: 203 });
    assert.deepEqual(fitSize(600, 1200, 360, 270), { width: 135, height: 270 });
    assert.deepEqual(fitSize(100, 50, 360, 270), { width: 100, height: 50 });
    assert.equal(fitSize(null, null, 360, 270), null, "unknown sizes: the CSS bounds it");
    assert.equal(fitSize(0, 10, 360, 270), null);
  });

  test("only http(s) addresses become links", () => {
    assert.equal(safeUrl("/files/a1/x.png", "https://chat.test/"), "/files/a1/x.png");
    assert.equal(safeUrl("https://cdn.test/x", "https://chat.test/"), "https://cdn.test/x");
    assert.equal(safeUrl("javascript:alert(1)", "https://chat.test/"), null);
    assert.equal(safeUrl("data:text/html,hi", "https://chat.test/"), null);
    assert.equal(safeUrl(null), null);
  });

  test("sizes as people read them; an extension for the icon", () => {
    assert.equal(fileSize(512), "512 B");
    assert.equal(fileSize(1536), "1.5 KB");
    assert.equal(fileSize(14 * 1024 + 100), "14 KB");
    assert.equal(fileSize(10 * 1024 * 1024), "10 MB");
    assert.equal(fileSize(2.45 * 1024 * 1024), "2.5 MB");
    assert.equal(extensionOf("report.final.PDF"), "PDF");
    assert.equal(extensionOf("archive.tar.gz"), "GZ");
    assert.equal(extensionOf("README"), "");
  });

  test("why an upload failed, in our words where we have them", () => {
    assert.equal(uploadErrorText({ code: "too_long" }), "the file is too large");
    assert.equal(uploadErrorText({ code: "muted" }), "you are muted in this room.");
    assert.equal(uploadErrorText({ code: "odd", message: "Odd." }), "Odd.");
  });
});
