/*
 * The client's words (views/strings.js): English without a catalog (as here, in Node), the
 * page's language through Django's JavaScript catalog when the page loaded one.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, describe, test } from "node:test";

import {
  duration,
  errorText,
  fileSize,
  formatOptions,
  has,
  keys,
  message,
  nameList,
  t,
  uploadErrorText,
} from "../../chat/static/chat/views/strings.js";

/**
 * A stand-in for the script /jsi18n/<lang>/<version>.js puts on the page: Django's
 * gettext, ngettext and interpolate over a catalog, with Chinese's one plural form.
 */
function fakeCatalog(catalog) {
  const pluralidx = () => 0; // Plural-Forms: nplurals=1; plural=0;
  return {
    catalog,
    gettext: (msgid) => {
      const value = catalog[msgid];
      return value === undefined ? msgid : Array.isArray(value) ? value[0] : value;
    },
    ngettext: (singular, plural, count) => {
      const value = catalog[singular];
      return value === undefined ? (count == 1 ? singular : plural) : value[pluralidx(count)];
    },
    interpolate: (fmt, obj) => fmt.replace(/%\(\s*([^)]*)\s*\)s/g, (match) => String(obj[match.slice(2, -2)])),
  };
}

/** Plays a page in `lang` with `catalog` loaded. */
function page(lang, catalog) {
  globalThis.document = { documentElement: { lang } };
  globalThis.django = fakeCatalog(catalog);
}

afterEach(() => {
  delete globalThis.document;
  delete globalThis.django;
});

describe("strings without a catalog (English)", () => {
  test("placeholders are filled; a missing value stays visible; plurals follow the count", () => {
    assert.equal(t("typing_one", { name: "bob" }), "bob is typing…");
    assert.equal(t("typing_one"), "%(name)s is typing…");
    assert.equal(t("log_unseen", { count: 1 }), "1 new message");
    assert.equal(t("log_unseen", { count: 3 }), "3 new messages");
    assert.equal(t("members_count", { online: 2, count: 1 }), "2 online · 1 member");
    assert.equal(t("no such key"), "no such key");
  });

  test("durations as slow mode shows them", () => {
    assert.equal(duration(30), "30 s");
    assert.equal(duration(120), "2 min");
    assert.equal(duration(7200), "2 h");
    assert.equal(duration(90), "90 s");
  });

  test("a refusal's reason: our words for a known code, else the server's", () => {
    assert.equal(errorText({ code: "disconnected" }), "not connected; try again in a moment.");
    assert.equal(errorText({ code: "weird", message: "Something odd." }), "Something odd.");
    assert.equal(errorText({ code: "weird" }), "weird");
    assert.equal(uploadErrorText({ code: "too_long" }), "the file is too large");
    assert.equal(uploadErrorText({ code: "muted" }), "you are muted in this room.");
  });

  test("file sizes and lists of names", () => {
    assert.equal(fileSize(512), "512 B");
    assert.equal(fileSize(2.5 * 1024 * 1024), "2.5 MB");
    assert.equal(nameList(["alice", "bob", "carol"]), "alice, bob, and carol");
  });

  test("every message is a plain string or a singular and a plural, with %(name)s placeholders", () => {
    for (const key of keys()) {
      const entry = message(key);
      const texts = typeof entry === "string" ? [entry] : [entry.singular, entry.plural];
      for (const text of texts) {
        assert.equal(typeof text, "string", key);
        assert.doesNotMatch(text, /\{\w+\}/, `${key} uses a {brace} placeholder`);
      }
    }
  });

  test("the file keeps to what xgettext can read: no template or regular expression literals", () => {
    const source = readFileSync(new URL("../../chat/static/chat/views/strings.js", import.meta.url), "utf8");
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /`/);
    assert.doesNotMatch(code, /[=(,:]\s*\/[^/*]/, "a regular expression literal");
  });
});

describe("strings with the page's catalog (Chinese)", () => {
  const zh = {
    "%(name)s is typing…": "%(name)s 正在输入…",
    "%(count)s new message": ["%(count)s 条新消息"],
    "%(online)s online · %(count)s member": ["%(online)s 人在线 · 共 %(count)s 名成员"],
    "you are muted in this room until %(time)s.": "你已在此频道被禁言，直到 %(time)s。",
    "not connected; try again in a moment.": "未连接，请稍后重试。",
    "%(n)s min": "%(n)s 分钟",
    "%(n)s KB": "%(n)s KB",
  };

  test("messages are translated and their placeholders filled", () => {
    page("zh-Hans", zh);
    assert.equal(t("typing_one", { name: "小明" }), "小明 正在输入…");
    assert.equal(duration(300), "5 分钟");
    assert.equal(fileSize(20 * 1024), "20 KB");
  });

  test("plurals take the language's one form, whatever the count", () => {
    page("zh-Hans", zh);
    assert.equal(t("log_unseen", { count: 1 }), "1 条新消息");
    assert.equal(t("log_unseen", { count: 7 }), "7 条新消息");
    assert.equal(t("members_count", { online: 3, count: 12 }), "3 人在线 · 共 12 名成员");
  });

  test("a message the catalog lacks falls back to English", () => {
    page("zh-Hans", zh);
    assert.equal(t("log_seen"), "Seen");
    assert.equal(t("search_found", { count: 2 }), "2 messages found");
  });

  test("an error frame's code is shown in the page's language; a mute keeps its end, in the reader's zone", () => {
    page("zh-Hans", zh);
    assert.equal(errorText({ code: "disconnected", message: "Not connected." }), "未连接，请稍后重试。");
    const until = errorText({ code: "muted", message: "You are muted in this room until 2026-11-21T14:05+00:00." });
    const { timeZone } = formatOptions();
    const expected = new Intl.DateTimeFormat("zh-Hans", { dateStyle: "medium", timeStyle: "short", timeZone }).format(
      new Date("2026-11-21T14:05:00Z")
    );
    assert.equal(until, `你已在此频道被禁言，直到 ${expected}。`);
  });

  test("names are listed the Chinese way; dates are written in the page's language", () => {
    page("zh-Hans", zh);
    assert.equal(nameList(["小明", "小红", "alice"]), "小明、小红和alice");
    assert.equal(formatOptions().locale, "zh-Hans");
  });

  test("every key a test here uses exists", () => {
    for (const key of ["typing_one", "log_unseen", "members_count", "log_seen", "search_found"]) {
      assert.ok(has(key), key);
    }
  });
});
