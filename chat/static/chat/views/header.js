/*
 * The room's header: its mark (# public, a lock private, @ direct), its name (the other
 * person in a direct conversation), its topic, and the settings link for its moderators.
 */
import { roomSettingsUrl } from "../core/paths.js";
import { byId, el, icon } from "./dom.js";
import { t } from "./strings.js";

/**
 * How the page names a room: "#general", "Plans" (private), "@bob" (direct).
 * @param {{kind: string, name: string}} info
 * @param {string} title the other person, for a direct room
 */
export function roomLabel(info, title) {
  if (info.kind === "direct") {
    return `@${title}`;
  }
  return info.kind === "public" ? `#${info.name}` : info.name;
}

export class HeaderView {
  #ui;

  constructor() {
    this.#ui = {
      mark: byId("room-mark"),
      name: byId("room-name"),
      topic: byId("room-topic"),
      settings: byId("room-settings-slot"),
      log: byId("log"),
    };
  }

  /**
   * @param {{slug: string, kind: string, name: string, topic: string}} info
   * @param {{title: string, moderator: boolean}} context
   */
  render(info, { title, moderator }) {
    const mark = this.#ui.mark;
    mark.replaceChildren(info.kind === "private" ? icon("lock", 15) : info.kind === "direct" ? "@" : "#");
    this.#ui.name.textContent = info.kind === "direct" ? title : info.name;
    const topic = info.kind === "direct" ? t("topic_direct", { name: title }) : info.topic || t(info.kind === "private" ? "topic_private" : "topic_public");
    this.#ui.topic.textContent = topic;
    this.#ui.topic.title = info.kind === "direct" ? "" : info.topic || "";
    this.#ui.log.setAttribute("aria-label", info.kind === "direct" ? t("log_label_direct", { name: title }) : t("log_label", { room: info.name }));
    const slot = this.#ui.settings;
    if (moderator && info.kind !== "direct") {
      const link = slot.querySelector("a") ?? el("a", "button button-quiet room-settings-link");
      link.href = roomSettingsUrl(info.slug);
      link.title = t("room_settings");
      link.replaceChildren(icon("gear", 16), el("span", "room-settings-text", t("room_settings")));
      slot.replaceChildren(link);
    } else {
      slot.replaceChildren();
    }
  }
}
