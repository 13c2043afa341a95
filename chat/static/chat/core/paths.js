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
