/*
 * The room settings page (moderators): small enhancements over plain forms.
 *
 * - Each member row's Mute / Ban / Remove button opens one small form right under that row,
 *   with the member filled in (the page's general "by username" forms work without script);
 * - times are shown in the reader's time zone and language.
 *
 * Every form posts to the page itself; the server answers with a flash message.
 * User text only ever reaches the page through textContent.
 */
(function () {
  "use strict";

  var root = document.getElementById("room-settings");
  if (!root) {
    return;
  }

  // ---------------------------------------------------------------- local times

  var dateFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  var dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  Array.prototype.forEach.call(root.querySelectorAll("time[data-local]"), function (time) {
    var date = new Date(time.getAttribute("datetime"));
    if (isNaN(date.getTime())) {
      return;
    }
    time.textContent = (time.dataset.local === "date" ? dateFormat : dateTimeFormat).format(date);
    time.title = fullFormat.format(date);
  });

  var C = window.ChatCommon;
  if (C) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-iso-times]"), function (node) {
      node.textContent = C.localTimes(node.textContent);
    });
  }

  // ---------------------------------------------------------------- changing a role

  // A role's Save button wakes up once its select says something else.
  Array.prototype.forEach.call(root.querySelectorAll(".role-form"), function (form) {
    var select = form.querySelector("select");
    var save = form.querySelector("button[type=submit]");
    var initial = select.value;
    save.disabled = true;
    select.addEventListener("change", function () {
      save.disabled = select.value === initial;
    });
  });

  // ---------------------------------------------------------------- a member's quick actions

  var panel = document.getElementById("member-panel");
  if (!panel) {
    return;
  }
  var opener = null; // the button whose form is open

  Array.prototype.forEach.call(root.querySelectorAll(".row-actions"), function (actions) {
    actions.hidden = false; // they need this script; without it the general forms remain
  });

  function close(returnFocus) {
    panel.hidden = true;
    Array.prototype.forEach.call(panel.querySelectorAll(".panel-form"), function (form) {
      form.hidden = true;
    });
    var row = opener && opener.closest("tr");
    if (row) {
      row.classList.remove("is-acting");
    }
    if (opener) {
      opener.setAttribute("aria-expanded", "false");
      if (returnFocus) {
        opener.focus();
      }
    }
    opener = null;
  }

  function open(button) {
    var kind = button.dataset.memberAction;
    var name = button.dataset.username;
    var form = panel.querySelector('.panel-form[data-panel="' + kind + '"]');
    if (!form || !name) {
      return;
    }
    close(false);
    var row = button.closest("tr");
    row.parentNode.insertBefore(panel, row.nextElementSibling);
    row.classList.add("is-acting");
    form.querySelector("[data-panel-username]").value = name;
    form.querySelector("[data-panel-name]").textContent = name;
    var reason = form.querySelector('input[name="reason"]');
    if (reason) {
      reason.value = "";
    }
    form.hidden = false;
    panel.hidden = false;
    opener = button;
    button.setAttribute("aria-expanded", "true");
    var first = form.querySelector("select, input[type=text]");
    if (first) {
      first.focus();
    }
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-member-action]");
    if (button) {
      if (opener === button) {
        close(true);
      } else {
        open(button);
      }
      return;
    }
    if (event.target.closest("[data-panel-cancel]")) {
      close(true);
    }
  });

  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    }
  });
})();
