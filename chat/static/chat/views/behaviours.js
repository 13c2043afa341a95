/*
 * What every page does, whatever else it shows: the account menu, forms that ask first
 * (data-confirm), username suggestions (data-user-suggest), avatar colours and times in the
 * reader's zone and language for what the server rendered.
 */
import { SEARCH_DELAY } from "../core/constants.js";
import { usersApi } from "../core/paths.js";
import { fullTime, localTimes, mediumDate, mediumDateTime, parseTime } from "../core/time.js";
import { colorClass, el } from "./dom.js";
import { toast } from "./notifications.js";
import { formatOptions, t } from "./strings.js";

/** Usernames starting with `q` (not mine), at most 10; [] on any failure. */
export async function searchUsers(q) {
  try {
    const response = await fetch(usersApi(q), { credentials: "same-origin", headers: { Accept: "application/json" } });
    const data = response.ok ? await response.json() : { users: [] };
    return Array.isArray(data.users) ? data.users.filter((u) => typeof u === "string") : [];
  } catch {
    return [];
  }
}

/** The header's account menu (a <details>): a click elsewhere or Escape closes it. */
function setUpUserMenu() {
  const menu = document.getElementById("user-menu");
  if (!menu) {
    return;
  }
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) {
      menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}

/** An input with data-user-suggest gets its datalist filled with matching usernames. */
export function suggestUsers(input) {
  const list = document.getElementById(input.getAttribute("list"));
  if (!list || input.dataset.suggesting) {
    return;
  }
  input.dataset.suggesting = "on";
  let timer = null;
  let asked = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      if (!q || q === asked) {
        return;
      }
      asked = q;
      const users = await searchUsers(q);
      if (input.value.trim() === q) {
        list.replaceChildren(
          ...users.map((name) => {
            const option = el("option");
            option.value = name;
            return option;
          })
        );
      }
    }, SEARCH_DELAY);
  });
}

/** Times the server wrote in UTC, in the reader's zone: <time data-local="date|datetime">. */
function localizeTimes(root) {
  const options = formatOptions();
  for (const time of root.querySelectorAll("time[data-local]")) {
    const date = parseTime(time.getAttribute("datetime"));
    if (!date) {
      continue;
    }
    time.textContent = (time.dataset.local === "date" ? mediumDate : mediumDateTime)(date, options);
    time.title = fullTime(date, options);
  }
  for (const node of root.querySelectorAll("[data-iso-times]")) {
    node.textContent = localTimes(node.textContent, options);
  }
}

/** Colour what the server rendered as it colours what the views make. */
export function colorAvatars(root) {
  for (const node of root.querySelectorAll(".avatar[data-name]")) {
    node.classList.add(colorClass(node.dataset.name));
  }
}

/** A button with data-copy="<input id>" copies that input's value (a new token). */
function setUpCopyButtons() {
  document.addEventListener("click", async (event) => {
    const copy = event.target.closest("button[data-copy]");
    const input = copy && document.getElementById(copy.dataset.copy);
    if (!input) {
      return;
    }
    try {
      await navigator.clipboard.writeText(input.value);
      toast(t("copied"));
    } catch {
      input.select(); // no clipboard here (plain http): selected, for the keyboard's copy
    }
  });
}

export function setUpPage() {
  setUpCopyButtons();
  setUpUserMenu();
  colorAvatars(document);
  localizeTimes(document);
  for (const input of document.querySelectorAll("input[data-user-suggest]")) {
    suggestUsers(input);
  }
  // Forms with data-confirm ask first (blocking someone, leaving a room).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form?.dataset?.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
}
