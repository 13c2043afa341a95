/*
 * Dates without the DOM. Every function takes the locale and time zone to write in (the
 * page's language, the browser's zone), so that a Chinese page reads Chinese dates and tests
 * do not depend on the machine they run on. Words ("Today") come from a translation function
 * `t(key, values)`; `english` is the default.
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

const ENGLISH = {
  today: "Today",
  yesterday: "Yesterday",
  now: "now",
  minutes: "{n} min",
};

/**
 * The default translation.
 * @param {"today"|"yesterday"|"now"|"minutes"} key
 * @param {Record<string, string|number>} [values] for placeholders: "{n} min"
 */
export function english(key, values = {}) {
  return ENGLISH[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
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
 * @property {(key: string, values?: object) => string} [t] translation (default `english`)
 */

/**
 * A day divider's label: "Today", "Yesterday", else the full date ("Tuesday, March 5, 2024").
 * @param {Date} date
 * @param {TimeContext} context
 */
export function dayLabel(date, { now, locale, timeZone, t = english }) {
  const days = daysAgo(date, now, timeZone);
  if (days === 0) {
    return t("today");
  }
  if (days === 1) {
    return t("yesterday");
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
 * A list's short time: "now", "5 min", "2:05 PM" (today), "Yesterday", "Mon" (this week),
 * "Mar 3" (this year), "Mar 3, 2023".
 * @param {Date} date
 * @param {TimeContext} context
 */
export function shortTime(date, { now, locale, timeZone, t = english }) {
  const ago = now.getTime() - date.getTime();
  if (ago < 60000) {
    return t("now");
  }
  if (ago < 3600000) {
    return t("minutes", { n: Math.floor(ago / 60000) });
  }
  const days = daysAgo(date, now, timeZone);
  if (days <= 0) {
    return clockTime(date, { locale, timeZone });
  }
  if (days === 1) {
    return t("yesterday");
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
