import { BACKOFF_BASE, BACKOFF_CAP, FLOOD_DELAY_MIN, FLOOD_DELAY_SPAN } from "./constants.js";

/**
 * Exponential backoff with full jitter: anywhere in [0, min(cap, base * 2^attempt)), so that
 * the clients a server restart dropped together do not all come back at the same moment.
 * @param {number} attempt 0 for the first retry
 * @param {() => number} random uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, random) {
  return random() * Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt);
}

/**
 * The pause after a close for flooding: at least 30 s (the server's wish), jittered over
 * another 30 s so that a crowd closed together spreads out.
 * @param {() => number} random
 * @returns {number} milliseconds
 */
export function floodDelay(random) {
  return FLOOD_DELAY_MIN + random() * FLOOD_DELAY_SPAN;
}
