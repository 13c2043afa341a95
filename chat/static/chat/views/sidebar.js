/*
 * The sidebar: my rooms and my direct conversations, each with its live unread count (a
 * mention or a direct message shows stronger), the one on screen marked; a dialog to start a
 * direct conversation. On a phone-sized screen it is a drawer, opened from the header.
 *
 * The page renders the list first (so it shows before any script runs); this view reads it
 * into the Conversations state, then renders from that state only.
 */
import { roomUrl } from "../core/paths.js";
import { avatar, byId, clear, el, icon } from "./dom.js";
import { t } from "./strings.js";
import { setUpUserSearch } from "./usersearch.js";

/**
 * The entries the page rendered, as `GET /api/rooms/` would list them.
 * @param {HTMLElement} root
 */
export function readRenderedList(root) {
  return [...root.querySelectorAll("li[data-room]")].map((li) => ({
    slug: li.dataset.room,
    name: li.dataset.name,
    kind: li.dataset.kind,
    topic: li.dataset.topic ?? "",
    title: li.dataset.title,
    unread: Number(li.dataset.unread) || 0,
    mentions: Number(li.dataset.mentions) || 0,
    joined: true,
    last_id: Number(li.dataset.lastId) || 0,
  }));
}

/** Rooms by name; direct conversations by their latest message, newest first. */
export function sortEntries(entries) {
  const rooms = entries.filter((e) => e.kind !== "direct").sort((a, b) => a.title.localeCompare(b.title));
  const direct = entries.filter((e) => e.kind === "direct").sort((a, b) => b.lastId - a.lastId || a.title.localeCompare(b.title));
  return { rooms, direct };
}

function entryIcon(entry) {
  if (entry.kind === "direct") {
    const node = avatar(entry.title, "avatar-xs conv-avatar");
    return node;
  }
  const mark = el("span", "conv-icon", entry.kind === "private" ? null : "#");
  mark.setAttribute("aria-hidden", "true");
  if (entry.kind === "private") {
    mark.append(icon("lock", 13));
  }
  return mark;
}

function buildEntry(entry) {
  const li = el("li", `conv conv-${entry.kind ?? "public"}`);
  li.dataset.room = entry.slug;
  const link = el("a", "conv-link");
  link.href = roomUrl(entry.slug);
  const badge = el("span", "badge");
  badge.append(el("span", "badge-count"), el("span", "visually-hidden badge-label"));
  link.append(entryIcon(entry), el("span", "conv-name", entry.title), badge);
  li.append(link);
  return li;
}

function updateEntry(li, entry, active) {
  const link = li.firstElementChild;
  const name = li.querySelector(".conv-name");
  if (name.textContent !== entry.title) {
    name.textContent = entry.title;
  }
  li.dataset.unread = String(entry.unread);
  li.classList.toggle("is-unread", entry.unread > 0);
  li.classList.toggle("is-mention", entry.unread > 0 && entry.mention);
  li.classList.toggle("is-active", active);
  if (active) {
    link.setAttribute("aria-current", "page");
  } else {
    link.removeAttribute("aria-current");
  }
  link.title = entry.topic || entry.title;
  const badge = li.querySelector(".badge");
  badge.hidden = entry.unread <= 0;
  badge.querySelector(".badge-count").textContent = entry.unread > 99 ? "99+" : String(entry.unread);
  badge.querySelector(".badge-label").textContent = entry.mention ? t("sidebar_unread_mention") : t("sidebar_unread");
}

export class Sidebar {
  #conversations;
  #root;
  #lists;
  #items = new Map(); // slug -> <li>
  #active = null;

  /**
   * @param {import("../core/conversations.js").Conversations} conversations
   * @param {HTMLElement} root #sidebar
   */
  constructor(conversations, root) {
    this.#conversations = conversations;
    this.#root = root;
    this.#lists = {
      rooms: { list: byId("room-list"), empty: byId("room-empty") },
      direct: { list: byId("direct-list"), empty: byId("direct-empty") },
    };
    // The rendered entries are replaced by ours, built the same way.
    clear(this.#lists.rooms.list);
    clear(this.#lists.direct.list);
    conversations.on("change", () => this.render());
    this.#setUpDrawer();
    this.#setUpDirectDialog();
  }

  /** @param {string|null} slug the conversation on screen */
  setActive(slug) {
    this.#active = slug;
    const home = byId("sidebar-home");
    if (slug === null && window.location.pathname === "/") {
      home?.setAttribute("aria-current", "page");
    } else {
      home?.removeAttribute("aria-current");
    }
    this.render();
  }

  render() {
    const { rooms, direct } = sortEntries(this.#conversations.list().filter((e) => e.joined));
    const shown = new Set();
    for (const [group, entries] of [
      [this.#lists.rooms, rooms],
      [this.#lists.direct, direct],
    ]) {
      const items = entries.map((entry) => {
        shown.add(entry.slug);
        let li = this.#items.get(entry.slug);
        if (!li || li.dataset.kind !== String(entry.kind)) {
          li = buildEntry(entry);
          li.dataset.kind = String(entry.kind);
          this.#items.get(entry.slug)?.remove();
          this.#items.set(entry.slug, li);
        }
        updateEntry(li, entry, entry.slug === this.#active);
        return li;
      });
      const current = [...group.list.children];
      if (items.length !== current.length || items.some((li, i) => li !== current[i])) {
        group.list.replaceChildren(...items);
      }
      group.empty.hidden = items.length > 0;
    }
    for (const [slug, li] of this.#items) {
      if (!shown.has(slug)) {
        li.remove();
        this.#items.delete(slug);
      }
    }
    // On a phone the list hides in the drawer: its button says when something waits there.
    byId("drawer-toggle")?.classList.toggle("has-unread", this.#conversations.total() > 0);
  }

  /** Close the drawer (a conversation was chosen). */
  closeDrawer() {
    this.#setDrawer(false);
  }

  #setDrawer(open) {
    document.body.classList.toggle("is-drawer-open", open);
    byId("drawer-toggle")?.setAttribute("aria-expanded", open ? "true" : "false");
    const backdrop = byId("drawer-backdrop");
    if (backdrop) {
      backdrop.hidden = !open;
    }
  }

  #setUpDrawer() {
    const toggle = byId("drawer-toggle");
    if (!toggle) {
      return;
    }
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = !document.body.classList.contains("is-drawer-open");
      this.#setDrawer(open);
      if (open) {
        (this.#root.querySelector(".conv-link[aria-current=page]") ?? this.#root.querySelector("a"))?.focus();
      }
    });
    byId("drawer-backdrop")?.addEventListener("click", () => this.#setDrawer(false));
    byId("sidebar-close")?.addEventListener("click", () => {
      this.#setDrawer(false);
      toggle.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && document.body.classList.contains("is-drawer-open")) {
        this.#setDrawer(false);
        toggle.focus();
      }
    });
    // Any link followed in the drawer closes it (a full page load would anyway).
    this.#root.addEventListener("click", (event) => {
      if (event.target.closest("a[href]")) {
        this.#setDrawer(false);
      }
    });
  }

  #setUpDirectDialog() {
    const dialog = byId("dm-dialog");
    const opener = byId("new-dm");
    if (!dialog || !opener || typeof dialog.showModal !== "function") {
      return;
    }
    setUpUserSearch(dialog.querySelector(".user-search"));
    opener.addEventListener("click", () => {
      dialog.showModal();
      dialog.querySelector("[role=combobox]").focus();
    });
    dialog.querySelector("[data-close]")?.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) {
        dialog.close(); // a click on the backdrop
      }
    });
  }
}
