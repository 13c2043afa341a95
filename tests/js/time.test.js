import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  clockTime,
  dayKey,
  dayLabel,
  daysAgo,
  fullTime,
  localTimes,
  mediumDate,
  mediumDateTime,
  parseTime,
  relativeTime,
  shortTime,
} from "../../chat/static/chat/core/time.js";

const NY = "America/New_York";
const SHANGHAI = "Asia/Shanghai";
const en = { locale: "en-US", timeZone: NY };

/** ICU versions differ in the space they put before "AM" (U+0020 or U+202F): compare either. */
const plain = (text) => text.replace(/\s/g, " ");

describe("time", () => {
  test("parseTime reads the server's ISO-8601, microseconds included; null for anything else", () => {
    assert.equal(parseTime("2024-03-05T14:05:09.123456+00:00").toISOString(), "2024-03-05T14:05:09.123Z");
    assert.equal(parseTime("2024-03-05T14:05:09Z").toISOString(), "2024-03-05T14:05:09.000Z");
    assert.equal(parseTime("yesterday"), null);
    assert.equal(parseTime(null), null);
  });

  test("dayKey is the calendar day in the given zone", () => {
    const date = new Date("2024-03-05T20:00:00Z");
    assert.equal(dayKey(date, NY), "2024-03-05");
    assert.equal(dayKey(date, SHANGHAI), "2024-03-06");
  });

  test("daysAgo counts calendar days, not 24 hours", () => {
    const now = new Date("2024-03-06T05:01:00Z"); // 00:01 in New York
    assert.equal(daysAgo(new Date("2024-03-06T04:59:00Z"), now, NY), 1); // 23:59 the day before
    assert.equal(daysAgo(new Date("2024-03-06T05:00:30Z"), now, NY), 0);
    assert.equal(daysAgo(new Date("2024-02-27T12:00:00Z"), now, NY), 8);
  });

  test("dayLabel: Today, Yesterday, else the full date in the page's language", () => {
    const now = new Date("2024-03-06T15:00:00Z");
    assert.equal(dayLabel(new Date("2024-03-06T13:00:00Z"), { now, ...en }), "Today");
    assert.equal(dayLabel(new Date("2024-03-05T13:00:00Z"), { now, ...en }), "Yesterday");
    assert.equal(dayLabel(new Date("2024-03-01T13:00:00Z"), { now, ...en }), "Friday, March 1, 2024");
    assert.equal(
      dayLabel(new Date("2024-03-01T13:00:00Z"), { now, locale: "zh-Hans", timeZone: SHANGHAI }),
      "2024年3月1日星期五"
    );
  });

  test("dayLabel in Chinese: 今天, 昨天, by the calendar of the reader's zone", () => {
    const zh = { locale: "zh-Hans", timeZone: SHANGHAI };
    const now = new Date("2024-03-06T15:00:00Z"); // 23:00 in Shanghai
    assert.equal(dayLabel(new Date("2024-03-06T01:00:00Z"), { now, ...zh }), "今天"); // 09:00
    assert.equal(dayLabel(new Date("2024-03-05T15:30:00Z"), { now, ...zh }), "昨天"); // 23:30 the day before
    const evening = new Date("2024-03-05T23:00:00Z"); // 07:00 on the 6th in Shanghai, 18:00 on the 5th in New York
    assert.equal(dayLabel(evening, { now, ...zh }), "今天");
    assert.equal(dayLabel(evening, { now, ...en }), "Yesterday");
    assert.equal(dayLabel(new Date("2024-03-04T13:00:00Z"), { now, ...zh }), "2024年3月4日星期一");
  });

  test("clockTime and fullTime follow the locale and the zone", () => {
    const date = new Date("2024-03-05T14:05:00Z");
    assert.equal(plain(clockTime(date, en)), "9:05 AM");
    assert.equal(clockTime(date, { locale: "zh-Hans", timeZone: SHANGHAI }), "22:05");
    assert.match(plain(fullTime(date, en)), /^Tuesday, March 5, 2024( at|,) 9:05 AM$/);
  });

  test("shortTime: now, minutes, time today, Yesterday, weekday, date", () => {
    const now = new Date("2024-03-06T15:00:00Z"); // 10:00 in New York
    const at = (iso) => plain(shortTime(new Date(iso), { now, ...en }));
    assert.equal(at("2024-03-06T14:59:30Z"), "now");
    assert.equal(at("2024-03-06T14:55:00Z"), "5m ago");
    assert.equal(at("2024-03-06T13:00:00Z"), "8:00 AM");
    assert.equal(at("2024-03-05T20:00:00Z"), "Yesterday");
    assert.equal(at("2024-03-02T20:00:00Z"), "Sat");
    assert.equal(at("2024-01-02T20:00:00Z"), "Jan 2");
    assert.equal(at("2023-12-02T20:00:00Z"), "Dec 2, 2023");
  });

  test("shortTime in Chinese: 现在, 分钟前, the time of day, 昨天, the weekday, the date", () => {
    const now = new Date("2024-03-06T06:00:00Z"); // 14:00 in Shanghai
    const at = (iso) => shortTime(new Date(iso), { now, locale: "zh-Hans", timeZone: SHANGHAI });
    assert.equal(at("2024-03-06T05:59:30Z"), "现在");
    assert.equal(at("2024-03-06T05:55:00Z"), "5分钟前");
    assert.equal(at("2024-03-06T01:05:00Z"), "9:05");
    assert.equal(at("2024-03-05T12:00:00Z"), "昨天");
    assert.equal(at("2024-03-02T12:00:00Z"), "周六");
    assert.equal(at("2024-01-02T12:00:00Z"), "1月2日");
  });

  test("times of day are the reader's zone's, written in the page's language", () => {
    const date = new Date("2024-03-05T06:30:00Z");
    assert.equal(clockTime(date, { locale: "zh-Hans", timeZone: SHANGHAI }), "14:30");
    assert.equal(clockTime(date, { locale: "zh-Hans", timeZone: "Europe/London" }), "6:30");
    assert.equal(plain(clockTime(date, { locale: "en", timeZone: "Asia/Tokyo" })), "3:30 PM");
    assert.match(fullTime(date, { locale: "zh-Hans", timeZone: SHANGHAI }), /^2024年3月5日星期二 14:30$/);
  });

  test("relativeTime speaks the locale's words", () => {
    assert.equal(relativeTime(-1, "day", { locale: "zh-Hans" }), "昨天");
    assert.equal(relativeTime(0, "day", { locale: "zh-Hans" }), "今天");
    assert.equal(relativeTime(-3, "hour", { locale: "zh-Hans" }), "3小时前");
    assert.equal(relativeTime(2, "minute", { locale: "zh-Hans" }), "2分钟后");
    assert.equal(relativeTime(-1, "day", { locale: "en" }), "yesterday");
    assert.equal(relativeTime(-5, "minute", { locale: "en", style: "narrow" }), "5m ago");
  });

  test("localTimes rewrites the times in a server's text and nothing else", () => {
    assert.equal(
      plain(localTimes("You are muted until 2026-11-21T14:05:00+00:00.", en)),
      "You are muted until Nov 21, 2026, 9:05 AM."
    );
    assert.equal(localTimes("No time here.", en), "No time here.");
  });

  test("mediumDate and mediumDateTime write a table's dates in the reader's zone", () => {
    const date = new Date(Date.UTC(2024, 2, 5, 23, 30));
    assert.equal(mediumDate(date, { locale: "en-US", timeZone: "UTC" }), "Mar 5, 2024");
    assert.equal(mediumDate(date, { locale: "en-US", timeZone: SHANGHAI }), "Mar 6, 2024");
    assert.equal(plain(mediumDateTime(date, { locale: "en-US", timeZone: "UTC" })), "Mar 5, 2024, 11:30 PM");
  });
});
