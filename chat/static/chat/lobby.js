/*
 * The lobby, live: unread badges, the direct conversations (newest first, with the last
 * message), the tab title's unread count, and the search that starts a conversation.
 *
 * It follows /ws/lobby/ through ChatCommon.startUserSocket (common.js, loaded first):
 * - `ready`: every badge from its `unread` (after a reconnect too, so nothing drifts);
 * - `notify`: a direct message or a mention of me: that room's badge goes up (not for what I
 *   wrote myself in another tab), a direct conversation moves to the top with its new last
 *   message, or appears if it is new;
 * - `unread`: my read mark moved in a room (in any tab): that room's badge is set.
 *
 * User text only ever reaches the page through textContent / createTextNode.
 */
(function () {
  "use strict";

  var C = window.ChatCommon;
  var root = document.getElementById("lobby");
  if (!root || !C) {
    return;
  }
  var el = C.el;

  var SEARCH_DEBOUNCE = 200;
  var CLOCK_EVERY = 60 * 1000;
  var PREVIEW_MAX = 120;

  var ui = {
    directList: document.getElementById("direct-list"),
    directEmpty: document.getElementById("direct-empty"),
    status: document.getElementById("live-status"),
    search: document.getElementById("user-search-input"),
    results: document.getElementById("user-search-results"),
  };

  var entries = new Map(); // slug -> <li>
  var counts = new C.UnreadCounts();

  // ---------------------------------------------------------------- entries

  function decorate(li) {
    var slug = li.dataset.room;
    entries.set(slug, li);
    if (li.dataset.roomName) {
      C.roomNames[slug] = li.dataset.roomName;
    }
    if (li.dataset.unread !== "") {
      counts.set(slug, Number(li.dataset.unread) || 0);
    }
    var avatar = li.querySelector(".dm-avatar[data-name]");
    if (avatar) {
      avatar.classList.add(C.colorClass(avatar.dataset.name));
    }
    var time = li.querySelector("time.room-time");
    if (time) {
      showTime(time);
    }
  }

  function showTime(time) {
    var date = C.parseDate(time.getAttribute("datetime"));
    time.textContent = C.shortTime(date);
    time.title = C.fullFormat.format(date);
  }

  function refreshClock() {
    Array.prototype.forEach.call(document.querySelectorAll("time.room-time"), showTime);
  }

  function setBadge(slug, n) {
    counts.set(slug, n);
    var li = entries.get(slug);
    var badge = li && li.querySelector(".badge");
    if (!badge) {
      return; // not in the lobby, or a public room I have not joined
    }
    n = counts.get(slug);
    li.dataset.unread = String(n);
    li.classList.toggle("is-unread", n > 0);
    badge.hidden = n <= 0;
    badge.title = n + " unread message" + (n === 1 ? "" : "s");
    badge.querySelector(".badge-count").textContent = n > 99 ? "99+" : String(n);
  }

  function updateTitle() {
    C.setUnreadTotal(counts.total());
  }

  function buildDirectEntry(slug, name) {
    var li = el("li", "room-entry dm-entry");
    li.dataset.room = slug;
    li.dataset.roomName = "@" + name;
    li.dataset.unread = "0";
    var link = el("a", "room-link");
    link.href = C.roomUrl(slug);
    var avatar = C.avatar(name, "dm-avatar");
    avatar.dataset.name = name;
    link.appendChild(avatar);

    var text = el("span", "room-text");
    var line = el("span", "room-line");
    line.appendChild(el("span", "room-name", name));
    line.appendChild(el("time", "room-time"));
    text.appendChild(line);
    text.appendChild(el("span", "room-preview"));
    link.appendChild(text);

    var badge = el("span", "badge");
    badge.hidden = true;
    badge.appendChild(el("span", "badge-count", "0"));
    badge.appendChild(el("span", "visually-hidden", " unread"));
    link.appendChild(badge);
    li.appendChild(link);
    return li;
  }

  function setPreview(li, message) {
    var preview = li.querySelector(".room-preview");
    preview.textContent = "";
    preview.appendChild(el("span", "preview-author", (message.author === C.me ? "You" : message.author) + ":"));
    preview.appendChild(document.createTextNode(" "));
    preview.appendChild(el("span", "preview-body", C.oneLine(message.body, PREVIEW_MAX)));
    var time = li.querySelector("time.room-time");
    if (!time) {
      time = el("time", "room-time");
      li.querySelector(".room-line").appendChild(time);
    }
    time.setAttribute("datetime", message.created || new Date().toISOString());
    showTime(time);
  }

  function moveToTop(li) {
    ui.directList.hidden = false;
    ui.directEmpty.hidden = true;
    if (ui.directList.firstElementChild !== li) {
      ui.directList.insertBefore(li, ui.directList.firstElementChild);
    }
  }

  function flash(li) {
    li.classList.remove("is-fresh");
    void li.offsetWidth; // restart the animation
    li.classList.add("is-fresh");
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-room]"), decorate);
  updateTitle();
  setInterval(refreshClock, CLOCK_EVERY);

  // ---------------------------------------------------------------- the direct list, from the server

  var refreshing = false;
  var refreshAgain = false;

  /** Take the direct list as the server renders it now: for a conversation this page cannot
   * name by itself (one I started in another tab, or one that began while offline). */
  function refreshDirect() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        // Parsed, not run: DOMParser documents execute no scripts. The HTML is the server's
        // own escaped rendering of this page, the same as on a reload.
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("direct-list");
        if (!fresh) {
          return;
        }
        var items = Array.prototype.map.call(fresh.children, function (li) {
          return document.importNode(li, true);
        });
        entries.forEach(function (li, slug) {
          if (li.classList.contains("dm-entry")) {
            entries.delete(slug);
          }
        });
        ui.directList.textContent = "";
        items.forEach(function (li) {
          ui.directList.appendChild(li);
          decorate(li);
          setBadge(li.dataset.room, Number(li.dataset.unread) || 0);
        });
        ui.directList.hidden = !items.length;
        ui.directEmpty.hidden = !!items.length;
        updateTitle();
      })
      .catch(function () {
        // the next notify or reconnect tries again
      })
      .then(function () {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          refreshDirect();
        }
      });
  }

  // ---------------------------------------------------------------- the live socket

  function setStatus(state) {
    var node = ui.status;
    root.dataset.live = state; // for tests and styles: is the lobby live?
    node.textContent = "";
    node.dataset.state = state;
    if (state === "connected" || state === "connecting") {
      node.hidden = true;
      return;
    }
    if (state === "ended") {
      node.appendChild(document.createTextNode("Your session has ended. "));
      var link = el("a", null, "Log in again");
      link.href = "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
      node.appendChild(link);
    } else if (state === "offline") {
      node.textContent = "Offline: unread counts will update when you are back online.";
    } else {
      node.textContent = "Reconnecting… unread counts may be out of date.";
    }
    node.hidden = false;
  }

  function onReady(frame) {
    var unread = frame.unread && typeof frame.unread === "object" ? frame.unread : {};
    counts.reset(unread);
    entries.forEach(function (li, slug) {
      setBadge(slug, counts.get(slug));
    });
    var unknown = Object.keys(unread).some(function (slug) {
      return C.isDirect(slug) && !entries.has(slug);
    });
    if (unknown) {
      refreshDirect();
    }
    updateTitle();
  }

  function onNotify(frame) {
    var message = frame.message;
    var mine = message.author === C.me;
    var slug = frame.room;
    var direct = C.notifyIsDirect(frame);
    if (direct) {
      var li = entries.get(slug);
      // A new conversation is named by the other person: the author, or (for one I started
      // in another tab) the other name in the room's name; failing that, the server knows.
      var partner = mine ? C.directPartner(frame) : message.author;
      if (!li && !partner) {
        refreshDirect();
      } else {
        if (!li) {
          li = buildDirectEntry(slug, partner);
          decorate(li);
        }
        setPreview(li, message);
        moveToTop(li);
        flash(li);
      }
    }
    if (!mine) {
      counts.add(slug, 1);
      setBadge(slug, counts.get(slug));
      if (!direct && entries.has(slug)) {
        flash(entries.get(slug));
      }
    }
    updateTitle();
    // The list shows a direct message by itself; a mention gets a toast too.
    C.announce(frame, { toast: !direct });
  }

  function onUnread(frame) {
    setBadge(frame.room, frame.unread);
    updateTitle();
  }

  C.startUserSocket({ ready: onReady, notify: onNotify, unread: onUnread, status: setStatus });

  // ---------------------------------------------------------------- finding someone to message

  var search = {
    timer: null,
    asked: null,
    results: [],
    active: -1,
  };

  function openResults(open) {
    ui.results.hidden = !open;
    ui.search.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      setActive(-1);
    }
  }

  function setActive(index) {
    search.active = index;
    var options = ui.results.querySelectorAll("[role=option]");
    Array.prototype.forEach.call(options, function (option, i) {
      var on = i === index;
      option.classList.toggle("is-active", on);
      option.setAttribute("aria-selected", on ? "true" : "false");
      if (on) {
        option.scrollIntoView({ block: "nearest" });
      }
    });
    if (index >= 0 && options[index]) {
      ui.search.setAttribute("aria-activedescendant", options[index].id);
    } else {
      ui.search.removeAttribute("aria-activedescendant");
    }
  }

  function renderResults(query, users) {
    search.results = users;
    ui.results.textContent = "";
    if (!users.length) {
      var none = el("li", "search-empty");
      none.appendChild(document.createTextNode("Nobody whose name starts with “"));
      none.appendChild(el("strong", null, C.oneLine(query, 40)));
      none.appendChild(document.createTextNode("”."));
      ui.results.appendChild(none);
    }
    users.forEach(function (name, i) {
      var option = el("li", "search-option");
      option.id = "user-option-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      var link = el("a", "search-result");
      link.href = C.dmUrl(name);
      link.tabIndex = -1;
      link.appendChild(C.avatar(name, "avatar-sm"));
      link.appendChild(el("span", "search-name", name));
      link.appendChild(el("span", "search-action", "Message"));
      option.appendChild(link);
      ui.results.appendChild(option);
    });
    openResults(true);
  }

  function runSearch() {
    var query = ui.search.value.trim();
    if (!query) {
      search.asked = null;
      ui.results.textContent = "";
      openResults(false);
      return;
    }
    if (query === search.asked) {
      openResults(true);
      return;
    }
    search.asked = query;
    C.searchUsers(query).then(function (users) {
      if (ui.search.value.trim() === query) {
        renderResults(query, users);
      }
    });
  }

  ui.search.addEventListener("input", function () {
    clearTimeout(search.timer);
    search.timer = setTimeout(runSearch, SEARCH_DEBOUNCE);
  });

  ui.search.addEventListener("focus", function () {
    if (ui.search.value.trim() && ui.results.children.length) {
      openResults(true);
    }
  });

  ui.search.addEventListener("keydown", function (event) {
    var count = search.results.length;
    if (event.key === "ArrowDown" && count) {
      event.preventDefault();
      openResults(true);
      setActive((search.active + 1) % count);
    } else if (event.key === "ArrowUp" && count) {
      event.preventDefault();
      openResults(true);
      setActive(search.active <= 0 ? count - 1 : search.active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      var query = ui.search.value.trim();
      var pick = search.active >= 0 ? search.results[search.active] : null;
      if (!pick && query && search.asked === query) {
        pick =
          search.results.find(function (name) {
            return name.toLowerCase() === query.toLowerCase();
          }) || (count === 1 ? search.results[0] : null);
      }
      if (pick) {
        window.location.assign(C.dmUrl(pick));
      } else {
        runSearch();
      }
    } else if (event.key === "Escape") {
      if (!ui.results.hidden) {
        event.preventDefault();
        openResults(false);
      }
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("#user-search")) {
      openResults(false);
    }
  });
})();
