/*
 * Finding someone to message: a combobox over GET /api/users/?q=, whose options link to
 * /dm/<username>/ (which opens, or starts, our direct conversation).
 */
import { SEARCH_DELAY } from "../core/constants.js";
import { dmUrl } from "../core/paths.js";
import { oneLine } from "../core/text.js";
import { avatar, el, markActiveOption } from "./dom.js";
import { searchUsers } from "./behaviours.js";
import { t } from "./strings.js";

/**
 * @param {HTMLElement} box the wrapper: an input[role=combobox] and a ul[role=listbox] inside
 */
export function setUpUserSearch(box) {
  const input = box.querySelector("[role=combobox]");
  const results = box.querySelector("[role=listbox]");
  const state = { timer: null, asked: null, users: [], active: -1 };

  function setActive(index) {
    state.active = index;
    markActiveOption(input, results.querySelectorAll("[role=option]"), index);
  }

  function show(open) {
    results.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      setActive(-1);
    }
  }

  function render(query, users) {
    state.users = users;
    if (!users.length) {
      const none = el("li", "search-empty");
      none.append(t("search_nobody_before"), el("strong", null, oneLine(query, 40)), t("search_nobody_after"));
      results.replaceChildren(none);
    } else {
      results.replaceChildren(
        ...users.map((name, i) => {
          const option = el("li", "search-option");
          option.id = `${results.id}-${i}`;
          option.setAttribute("role", "option");
          option.setAttribute("aria-selected", "false");
          const link = el("a", "search-result");
          link.href = dmUrl(name);
          link.tabIndex = -1;
          link.append(avatar(name, "avatar-sm"), el("span", "search-name", name), el("span", "search-action", t("search_message")));
          option.append(link);
          return option;
        })
      );
    }
    show(true);
  }

  async function run() {
    const query = input.value.trim();
    if (!query) {
      state.asked = null;
      results.replaceChildren();
      show(false);
      return;
    }
    if (query === state.asked) {
      show(true);
      return;
    }
    state.asked = query;
    const users = await searchUsers(query);
    if (input.value.trim() === query) {
      render(query, users);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(run, SEARCH_DELAY);
  });
  input.addEventListener("focus", () => {
    if (input.value.trim() && results.children.length) {
      show(true);
    }
  });
  input.addEventListener("keydown", (event) => {
    const count = state.users.length;
    if (event.key === "ArrowDown" && count) {
      event.preventDefault();
      show(true);
      setActive((state.active + 1) % count);
    } else if (event.key === "ArrowUp" && count) {
      event.preventDefault();
      show(true);
      setActive(state.active <= 0 ? count - 1 : state.active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const query = input.value.trim();
      let pick = state.active >= 0 ? state.users[state.active] : null;
      if (!pick && query && state.asked === query) {
        pick = state.users.find((name) => name.toLowerCase() === query.toLowerCase()) ?? (count === 1 ? state.users[0] : null);
      }
      if (pick) {
        window.location.assign(dmUrl(pick));
      } else {
        run();
      }
    } else if (event.key === "Escape" && !results.hidden) {
      event.preventDefault();
      event.stopPropagation();
      show(false);
    }
  });
  document.addEventListener("click", (event) => {
    if (!box.contains(event.target)) {
      show(false);
    }
  });
}
