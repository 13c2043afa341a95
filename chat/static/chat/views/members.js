/*
 * The room's side panel: who is a member and who is online, with a link to message each
 * one; below, what I may do about the room: add a member (moderators), leave it, or, in a
 * direct conversation, block the other person. These are plain forms posting to the pages
 * that do it (the CSRF token comes from the one the page rendered).
 */
import { BLOCKS_URL, addMemberUrl, dmUrl, leaveUrl } from "../core/paths.js";
import { avatar, byId, el, hidden, postForm } from "./dom.js";
import { suggestUsers } from "./behaviours.js";
import { t } from "./strings.js";

/** Online first, then by name. */
export function sortMembers(members, online) {
  const on = new Set(online);
  const names = [...new Set([...members, ...online])];
  return names.sort((a, b) => Number(on.has(b)) - Number(on.has(a)) || a.localeCompare(b));
}

export class MembersView {
  #session;
  #context;
  #ui;

  /**
   * @param {object} options
   * @param {import("../core/session.js").RoomSession} options.session
   * @param {() => {me: string, moderator: boolean, title: string}} options.context
   */
  constructor({ session, context }) {
    this.#session = session;
    this.#context = context;
    this.#ui = {
      root: byId("chat"),
      list: byId("member-list"),
      count: byId("member-count"),
      countToggle: byId("member-count-toggle"),
      toggle: byId("members-toggle"),
      close: byId("members-close"),
      forms: byId("room-side-forms"),
    };
    this.#ui.toggle.addEventListener("click", () => this.#setOpen(!this.#ui.root.classList.contains("is-members-open")));
    this.#ui.close.addEventListener("click", () => {
      this.#setOpen(false);
      this.#ui.toggle.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#ui.root.classList.contains("is-members-open")) {
        this.#setOpen(false);
      }
    });
    session.on("room", (change) => {
      if (change.kind === "reset" || change.kind === "members") {
        this.#renderList();
      }
      if (change.kind === "reset" || change.kind === "info") {
        this.#renderForms();
      }
      if (change.kind === "switched") {
        this.#ui.list.replaceChildren(el("li", "member member-placeholder muted", t("members_loading")));
        this.#ui.forms.replaceChildren();
      }
    });
    session.on("state", (event) => {
      if (event.state === "closed" && event.reason !== "stopped") {
        this.#renderList(); // who is online is unknown from here on
      }
    });
  }

  #setOpen(open) {
    this.#ui.root.classList.toggle("is-members-open", open);
    this.#ui.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  #renderList() {
    const room = this.#session.room;
    const { me } = this.#context();
    const closed = this.#session.state === "closed";
    const online = closed ? [] : room.online;
    const onlineSet = new Set(online);
    const direct = room.info?.kind === "direct";
    const names = sortMembers(room.members, online);
    this.#ui.list.replaceChildren(
      ...names.map((name) => {
        const isOnline = onlineSet.has(name);
        const li = el("li", `member${isOnline ? " is-online" : ""}`);
        const label = el("span", "member-name", name);
        if (name === me) {
          label.append(el("span", "member-you", ` ${t("members_you")}`));
        }
        li.append(avatar(name, "avatar-sm member-avatar"), label, el("span", "member-state", isOnline ? t("members_online") : ""));
        if (!isOnline) {
          li.append(el("span", "visually-hidden", t("members_offline")));
        }
        if (name !== me && !direct) {
          const dm = el("a", "member-dm", t("members_message"));
          dm.href = dmUrl(name);
          dm.title = t("members_message_label", { name });
          dm.setAttribute("aria-label", t("members_message_label", { name }));
          li.append(dm);
        }
        return li;
      })
    );
    this.#ui.count.textContent = `(${names.length})`;
    this.#ui.count.title = t("members_count", { online: online.length, count: names.length });
    this.#ui.countToggle.textContent = String(names.length);
  }

  #renderForms() {
    const room = this.#session.room;
    const info = room.info;
    if (!info) {
      return;
    }
    const { moderator, title } = this.#context();
    const parts = [];
    if (info.kind === "direct") {
      const meta = el("div", "side-meta side-direct");
      meta.append(el("p", "muted", t("side_direct_private", { name: title })));
      const block = postForm(BLOCKS_URL, "block-form");
      block.dataset.confirm = t("side_block_confirm", { name: title });
      const submit = el("button", "button button-quiet button-small button-danger-quiet", t("side_block", { name: title }));
      submit.type = "submit";
      block.append(hidden("username", title), submit);
      meta.append(block);
      parts.push(meta);
    } else {
      if (moderator) {
        const form = postForm(addMemberUrl(info.slug), "add-member stack-form");
        const field = el("div", "field");
        const label = el("label", null, t("side_add_member"));
        label.htmlFor = "add-member-username";
        const row = el("div", "inline-field");
        const input = el("input");
        Object.assign(input, { type: "text", name: "username", id: "add-member-username", maxLength: 150, required: true });
        input.autocomplete = "off";
        input.setAttribute("autocapitalize", "none");
        input.spellcheck = false;
        input.setAttribute("list", "add-member-suggestions");
        const datalist = el("datalist");
        datalist.id = "add-member-suggestions";
        const add = el("button", "button button-small", t("side_add"));
        add.type = "submit";
        row.append(input, datalist, add);
        field.append(label, row);
        form.append(field);
        parts.push(form);
        queueMicrotask(() => suggestUsers(input));
      }
      const role = room.me?.role;
      parts.push(el("p", "side-meta muted", t(role === "owner" ? "side_role_owner" : role === "moderator" ? "side_role_moderator" : "side_role_member")));
      const leave = postForm(leaveUrl(info.slug), "leave-form side-meta");
      leave.dataset.confirm = t(info.kind === "private" ? "side_leave_confirm_private" : "side_leave_confirm", { room: info.name });
      const submit = el("button", "button button-quiet button-small button-danger-quiet", t("side_leave"));
      submit.type = "submit";
      leave.append(submit);
      parts.push(leave);
    }
    this.#ui.forms.replaceChildren(...parts);
  }
}
