/*
 * The site's addresses the client builds or reads (contract: HTTP). Slugs and usernames are
 * encoded: a username may hold "+" or "@".
 */

/** @param {string} slug */
export function roomUrl(slug) {
  return `/rooms/${encodeURIComponent(slug)}/`;
}

/** @param {string} slug */
export function roomSettingsUrl(slug) {
  return `${roomUrl(slug)}settings/`;
}

/** @param {string} slug POST `username`: add a member (moderators) */
export function addMemberUrl(slug) {
  return `${roomUrl(slug)}members/`;
}

/** @param {string} slug POST: leave the room */
export function leaveUrl(slug) {
  return `${roomUrl(slug)}leave/`;
}

/** @param {string} username starts (or continues) the direct conversation with them */
export function dmUrl(username) {
  return `/dm/${encodeURIComponent(username)}/`;
}

export const HOME_URL = "/";
export const BLOCKS_URL = "/settings/blocks/";
export const LOGIN_URL = "/accounts/login/";

/**
 * A message in its room: the room page opens scrolled to it, highlighted. The fragment is
 * the id of the message's element in the log (`msg-<id>`).
 * @param {string} slug
 * @param {number} id
 */
export function messageUrl(slug, id) {
  return `${roomUrl(slug)}#msg-${id}`;
}

/**
 * The message an address's fragment points at ("#msg-42" gives 42), or null.
 * @param {string} hash location.hash
 */
export function messageFromHash(hash) {
  const match = /^#msg-(\d{1,16})$/.exec(hash ?? "");
  const id = match ? Number(match[1]) : null;
  return id !== null && Number.isSafeInteger(id) && id > 0 ? id : null;
}

/**
 * GET /api/search/: messages with every word of `q`, newest first.
 * @param {{q: string, room?: string|null, before?: number|null, limit?: number|null}} query
 *   room: only that room's; before: only older than that id (the next page)
 */
export function searchApi({ q, room = null, before = null, limit = null }) {
  const params = new URLSearchParams({ q });
  if (room) {
    params.set("room", room);
  }
  if (before !== null) {
    params.set("before", String(before));
  }
  if (limit !== null) {
    params.set("limit", String(limit));
  }
  return `/api/search/?${params}`;
}

/** @param {string} q a username prefix */
export function usersApi(q) {
  return `/api/users/?q=${encodeURIComponent(q)}`;
}

/**
 * The slug of a room page's path ("/rooms/general/" gives "general"), or null for any other
 * path (the settings page of a room included).
 * @param {string} pathname
 */
export function slugFromPath(pathname) {
  const match = /^\/rooms\/([^/]+)\/$/.exec(pathname);
  if (!match) {
    return null;
  }
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

/** @param {string} next where to come back to */
export function loginUrl(next) {
  return `${LOGIN_URL}?next=${encodeURIComponent(next)}`;
}
