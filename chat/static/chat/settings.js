/*
 * The room settings page (moderators), over its plain forms: each member row's Mute, Ban and
 * Remove buttons open one small form right under that row with the member filled in (the
 * page's forms "by username" work without script), and a role's Save wakes up once its
 * select says something else. Every form posts to the page itself; the server answers with a
 * flash message. The sidebar, times and the rest come from page.js, loaded with this.
 */

const root = document.getElementById("room-settings");
const panel = document.getElementById("member-panel");
let opener = null; // the button whose form is open

for (const form of root?.querySelectorAll(".role-form") ?? []) {
  const select = form.querySelector("select");
  const save = form.querySelector("button[type=submit]");
  const initial = select.value;
  save.disabled = true;
  select.addEventListener("change", () => {
    save.disabled = select.value === initial;
  });
}

function close(returnFocus) {
  panel.hidden = true;
  for (const form of panel.querySelectorAll(".panel-form")) {
    form.hidden = true;
  }
  opener?.closest("tr")?.classList.remove("is-acting");
  if (opener) {
    opener.setAttribute("aria-expanded", "false");
    if (returnFocus) {
      opener.focus();
    }
  }
  opener = null;
}

function open(button) {
  const kind = button.dataset.memberAction;
  const name = button.dataset.username;
  const form = panel.querySelector(`.panel-form[data-panel="${kind}"]`);
  if (!form || !name) {
    return;
  }
  close(false);
  const row = button.closest("tr");
  row.after(panel);
  row.classList.add("is-acting");
  form.querySelector("[data-panel-username]").value = name;
  form.querySelector("[data-panel-name]").textContent = name;
  const reason = form.querySelector('input[name="reason"]');
  if (reason) {
    reason.value = "";
  }
  form.hidden = false;
  panel.hidden = false;
  opener = button;
  button.setAttribute("aria-expanded", "true");
  form.querySelector("select, input[type=text]")?.focus();
}

if (root && panel) {
  for (const actions of root.querySelectorAll(".row-actions")) {
    actions.hidden = false; // they need this script; without it the general forms remain
  }
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-member-action]");
    if (button) {
      if (opener === button) {
        close(true);
      } else {
        open(button);
      }
    } else if (event.target.closest("[data-panel-cancel]")) {
      close(true);
    }
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    }
  });
}
