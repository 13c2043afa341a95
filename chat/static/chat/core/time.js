/*
 * Dates without the DOM. Every function takes the locale and time zone to write in (the
 * page's language, the browser's zone), so that a Chinese page reads Chinese dates and tests
 * do not depend on the machine they run on. Words too come from Intl ("today" and "今天",
 * "5m ago" and "5分钟前": Intl.RelativeTimeFormat), so this module holds no translations.
 */

const DAY = 86400000;

const formats = new Map();

/** An Intl.DateTimeFormat, built once per locale, zone and options: building one is slow. */
function formatter(locale, timeZone, options) {
  const key = JSON.stringify([locale, timeZone, options]);
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat(locale, { ...options, timeZone }));
  }
  return formats.get(key);
}

const relatives = new Map();

/** An Intl.RelativeTimeFormat ("yesterday", "5m ago"), built once per locale and style. */
function relative(locale, style) {
  const key = `${locale} ${style}`;
  if (!relatives.has(key)) {
    relatives.set(key, new Intl.RelativeTimeFormat(locale, { numeric: "auto", style }));
  }
  return relatives.get(key);
}

/** The first letter in capitals, as the locale writes them ("today" → "Today"; 今天 stays). */
function capitalized(text, locale) {
  return text.charAt(0).toLocaleUpperCase(locale) + text.slice(1);
}

/**
 * A time relative to now in the locale's words: relativeTime(-1, "day", ...) is "yesterday",
 * "昨天"; relativeTime(-5, "minute", ...) "5 minutes ago", "5分钟前".
 * @param {number} value negative for the past
 * @param {Intl.RelativeTimeFormatUnit} unit
 * @param {{locale: string, style?: "long"|"short"|"narrow"}} context
 */
export function relativeTime(value, unit, { locale, style = "long" }) {
  return relative(locale, style).format(value, unit);
}

/**
 * A server time as a Date; null for anything that is not one, so that a bad field never
 * shows as "Invalid Date". Fractions beyond milliseconds (Python writes microseconds) are
 * cut first: not every browser parses them.
 * @param {string} iso ISO-8601, e.g. "2024-03-05T14:05:09.123456+00:00"
 * @returns {Date|null}
 */
export function parseTime(iso) {
  if (typeof iso !== "string") {
    return null;
  }
  const date = new Date(iso.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * The calendar day of `date` in `timeZone`, as "YYYY-MM-DD": messages whose keys differ get
 * a day divider between them.
 * @param {Date} date
 * @param {string} timeZone an IANA zone ("Asia/Shanghai")
 */
export function dayKey(date, timeZone) {
  const parts = formatter("en-US", timeZone, { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(date);
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/**
 * Calendar days from `date` to `now` in `timeZone`: 0 the same day, 1 the day before
 * (not "24 hours": 23:59 yesterday is one day ago at 00:01).
 * @param {Date} date
 * @param {Date} now
 * @param {string} timeZone
 */
export function daysAgo(date, now, timeZone) {
  const midnight = (d) => {
    const [year, month, day] = dayKey(d, timeZone).split("-").map(Number);
    return Date.UTC(year, month - 1, day);
  };
  return Math.round((midnight(now) - midnight(date)) / DAY);
}

/**
 * @typedef {object} TimeContext
 * @property {Date} now
 * @property {string} locale a BCP 47 tag: "en", "zh-Hans"
 * @property {string} timeZone an IANA zone
 */

/**
 * A day divider's label: "Today", "Yesterday" ("今天", "昨天"), else the full date
 * ("Tuesday, March 5, 2024", "2024年3月5日星期二").
 * @param {Date} date
 * @param {TimeContext} context
 */
export function dayLabel(date, { now, locale, timeZone }) {
  const days = daysAgo(date, now, timeZone);
  if (days === 0 || days === 1) {
    return capitalized(relativeTime(-days, "day", { locale }), locale);
  }
  return formatter(locale, timeZone, { weekday: "long", year: "numeric", month: "long", day: "numeric" }).format(date);
}

/**
 * A message's time of day ("2:05 PM", "14:05").
 * @param {Date} date
 * @param {{locale: string, timeZone: string}} context
 */
export function clockTime(date, { locale, timeZone }) {
  return formatter(locale, timeZone, { hour: "numeric", minute: "2-digit" }).format(date);
}

/**
 * The full date and time, for a tooltip.
 * @param {Date} date
 * @param {{locale: string, timeZone: string}} context
 */
export function fullTime(date, { locale, timeZone }) {
  return formatter(locale, timeZone, { dateStyle: "full", timeStyle: "short" }).format(date);
}

/**
 * A list's short time: "now", "5m ago", "2:05 PM" (today), "Yesterday", "Mon" (this week),
 * "Mar 3" (this year), "Mar 3, 2023"; in Chinese "现在", "5分钟前", "14:05", "昨天", "周一"...
 * @param {Date} date
 * @param {TimeContext} context
 */
export function shortTime(date, { now, locale, timeZone }) {
  const ago = now.getTime() - date.getTime();
  if (ago < 60000) {
    return relativeTime(0, "second", { locale });
  }
  if (ago < 3600000) {
    return relativeTime(-Math.floor(ago / 60000), "minute", { locale, style: "narrow" });
  }
  const days = daysAgo(date, now, timeZone);
  if (days <= 0) {
    return clockTime(date, { locale, timeZone });
  }
  if (days === 1) {
    return capitalized(relativeTime(-1, "day", { locale }), locale);
  }
  if (days < 7) {
    return formatter(locale, timeZone, { weekday: "short" }).format(date);
  }
  const sameYear = dayKey(date, timeZone).slice(0, 4) === dayKey(now, timeZone).slice(0, 4);
  const options = sameYear ? { month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" };
  return formatter(locale, timeZone, options).format(date);
}

/**
 * A date in a list or a table ("Mar 5, 2024").
 * @param {Date} date
 * @param {{locale: string, timeZone: string}} context
 */
export function mediumDate(date, { locale, timeZone }) {
  return formatter(locale, timeZone, { dateStyle: "medium" }).format(date);
}

/**
 * A date and time in a list or a table ("Mar 5, 2024, 2:05 PM").
 * @param {Date} date
 * @param {{locale: string, timeZone: string}} context
 */
export function mediumDateTime(date, { locale, timeZone }) {
  return formatter(locale, timeZone, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;

/**
 * ISO-8601 times inside a server's text ("muted until 2026-11-21T14:05:00+00:00") in the
 * reader's language and zone; the rest of the text is left as it is.
 * @param {string} text
 * @param {{locale: string, timeZone: string}} context
 */
export function localTimes(text, { locale, timeZone }) {
  return String(text).replace(ISO_TIME, (iso) => {
    const date = parseTime(iso);
    return date ? mediumDateTime(date, { locale, timeZone }) : iso;
  });
}
