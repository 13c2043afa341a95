/*
 * Reactions without the DOM: the picker's common emoji, the ones I used lately (kept in
 * storage, localStorage in a browser), and what a message's reactions look like to me.
 */
import { RECENT_EMOJI } from "./constants.js";

/** The picker's fixed choice. */
export const COMMON_EMOJI = Object.freeze(["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅", "👏", "🤔"]);

const KEY = "chat.recent-emoji";

/**
 * The emoji I reacted with lately, newest first, remembered across pages.
 * Storage may be missing or throw (private mode, a full quota): then it lasts for this page.
 */
export class RecentEmoji {
  #storage;
  #list;

  /** @param {{getItem: (key: string) => string|null, setItem: (key: string, value: string) => void}|null} storage */
  constructor(storage) {
    this.#storage = storage;
    this.#list = [];
    try {
      const saved = JSON.parse(storage?.getItem(KEY) ?? "[]");
      if (Array.isArray(saved)) {
        this.#list = saved.filter((e) => typeof e === "string" && e.length <= 32).slice(0, RECENT_EMOJI);
      }
    } catch {
      // unreadable: start afresh
    }
  }

  /** @returns {string[]} newest first */
  get list() {
    return [...this.#list];
  }

  /** @param {string} emoji just used: it moves to the front */
  use(emoji) {
    this.#list = [emoji, ...this.#list.filter((e) => e !== emoji)].slice(0, RECENT_EMOJI);
    try {
      this.#storage?.setItem(KEY, JSON.stringify(this.#list));
    } catch {
      // not saved: remembered for this page only
    }
  }

  /** The picker's row: recent ones first, then the common ones not among them. */
  choices() {
    return [...this.#list, ...COMMON_EMOJI.filter((e) => !this.#list.includes(e))];
  }
}

/**
 * A message's reactions as a view shows them.
 * @param {{emoji: string, users: string[]}[]} reactions the message's `reactions`
 * @param {string|null} me
 * @returns {{emoji: string, count: number, users: string[], mine: boolean}[]} in the server's order
 */
export function reactionSummary(reactions, me) {
  if (!Array.isArray(reactions)) {
    return [];
  }
  return reactions
    .filter((r) => r && typeof r.emoji === "string" && Array.isArray(r.users) && r.users.length > 0)
    .map((r) => ({ emoji: r.emoji, count: r.users.length, users: [...r.users], mine: r.users.includes(me) }));
}
