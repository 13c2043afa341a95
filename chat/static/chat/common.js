/*
 * What every page of the site shares: plain JavaScript, no build step, no libraries.
 * Loaded (deferred) before the page's own script, it defines window.ChatCommon:
 *
 * - small DOM helpers (el, avatar), message text with links and @mentions as text nodes;
 * - the tab title's unread count, "(3) Lobby · Chat";
 * - toasts, and opt-in desktop notifications (the bell in the header, remembered in
 *   localStorage; the permission is asked for on a click only); a `notify` frame names its
 *   room (`room_name`, `room_kind`), so a toast needs nothing else;
 * - the header's account menu (blocked users, password, log out);
 * - the user's socket on /ws/lobby/: reconnects by itself (C.Connection, which chat.js's room
 *   socket uses too: exponential backoff with full jitter), keeps itself alive with
 *   ping/pong, hands `ready`, `notify` and `unread` frames to the page;
 * - on pages with no live script of their own (settings, error pages) it opens that socket
 *   just for the title and the notifications.
 *
 * User text only ever reaches the page through textContent / createTextNode.
 */
(function () {
  "use strict";

  var C = {};
  window.ChatCommon = C;

  var body = document.body;
  C.me = (body && body.dataset.me) || "";
  C.socketStarted = false; // a page script owns the live socket(s)

  C.BACKOFF_BASE = 1000;
  C.BACKOFF_CAP = 30000;
  C.FLOOD_DELAY_MIN = 30000;
  C.FLOOD_DELAY_SPAN = 30000;
  C.PING_EVERY = 25000;
  C.PONG_TIMEOUT = 10000;
  C.READY_TIMEOUT = 15000;

  var TOAST_MS = 6000;
  var TOASTS_SHOWN = 3;
  var NOTIFY_KEY = "chat.desktop-notifications";

  // ---------------------------------------------------------------- DOM helpers

  C.el = function (tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  };
  var el = C.el;

  C.colorClass = function (name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) {
      h = (h * 31 + name.charCodeAt(i)) >>> 0;
    }
    return "avatar-c" + (h % 8);
  };

  C.avatar = function (name, extra) {
    var first = Array.from(name || "?")[0] || "?";
    var node = el("span", "avatar " + C.colorClass(name || "") + (extra ? " " + extra : ""));
    node.textContent = first.toUpperCase();
    node.setAttribute("aria-hidden", "true");
    return node;
  };

  C.roomUrl = function (slug) {
    return "/rooms/" + encodeURIComponent(slug) + "/";
  };

  C.dmUrl = function (username) {
    return "/dm/" + encodeURIComponent(username) + "/";
  };

  /** Direct rooms have slugs `dm-<id>-<id>`; other rooms can never start with "dm-". */
  C.isDirect = function (slug) {
    return /^dm-\d+-\d+$/.test(slug || "");
  };

  /** One line of a message, for previews and notifications. */
  C.oneLine = function (text, max) {
    var line = String(text || "").replace(/\s+/g, " ").trim();
    max = max || 120;
    return line.length > max ? line.slice(0, max - 1) + "…" : line;
  };

  // ---------------------------------------------------------------- times

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short" });
  var dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  var yearFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  C.fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

  C.parseDate = function (iso) {
    var d = iso ? new Date(iso) : new Date();
    return isNaN(d.getTime()) ? new Date() : d;
  };

  function startOfDay(date) {
    return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  }

  /** "now", "5 min", "14:05", "Yesterday", "Mon", "Mar 3", "Mar 3, 2024": short and local. */
  C.shortTime = function (date, now) {
    now = now || new Date();
    var ago = now.getTime() - date.getTime();
    if (ago < 60 * 1000) {
      return "now";
    }
    if (ago < 60 * 60 * 1000) {
      return Math.floor(ago / 60000) + " min";
    }
    var days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
    if (days <= 0) {
      return timeFormat.format(date);
    }
    if (days === 1) {
      return "Yesterday";
    }
    if (days < 7) {
      return weekdayFormat.format(date);
    }
    return date.getFullYear() === now.getFullYear() ? dateFormat.format(date) : yearFormat.format(date);
  };

  /** ISO-8601 times in a server's text ("muted until 2026-11-21T14:05+00:00") in the
   * reader's time zone and language. */
  var ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;
  var mediumFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  C.localTimes = function (text) {
    return String(text).replace(ISO_TIME, function (iso) {
      var date = new Date(iso);
      return isNaN(date.getTime()) ? iso : mediumFormat.format(date);
    });
  };

  // ---------------------------------------------------------------- message text

  // The server's mention pattern (chat/messages.py MENTION), without a lookbehind: Django
  // usernames are letters, digits and @.+-_; a trailing '.' is punctuation, not the name.
  var W = "\\p{L}\\p{N}_";
  var MENTION = new RegExp("(^|[^" + W + "@])@([" + W + ".@+-]*[" + W + "@+-])", "gu");
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;

  /** The usernames a text mentions, as the server finds them. */
  C.mentions = function (text) {
    var found = [];
    var match;
    MENTION.lastIndex = 0;
    while ((match = MENTION.exec(text)) !== null) {
      found.push(match[2]);
    }
    return found;
  };

  C.mentionsMe = function (text, me) {
    me = me || C.me;
    return !!me && String(text).indexOf("@") !== -1 && C.mentions(text).indexOf(me) !== -1;
  };

  function appendMentions(node, text, me) {
    var last = 0;
    var match;
    MENTION.lastIndex = 0;
    while ((match = MENTION.exec(text)) !== null) {
      var start = match.index + match[1].length;
      if (start > last) {
        node.appendChild(document.createTextNode(text.slice(last, start)));
      }
      var name = match[2];
      var span = el("span", "mention" + (name === me ? " mention-me" : ""), "@" + name);
      node.appendChild(span);
      last = start + 1 + name.length;
    }
    if (last < text.length) {
      node.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  /** A message body as text nodes: http(s) addresses as links, @mentions marked; no HTML. */
  C.renderText = function (node, text, me) {
    me = me || C.me;
    node.textContent = "";
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var url = match[0].replace(/[.,;:!?)\]}]+$/, "");
      if (url.length <= "https://".length) {
        continue;
      }
      if (match.index > last) {
        appendMentions(node, text.slice(last, match.index), me);
      }
      var link = el("a", null, url);
      link.href = url;
      link.rel = "noopener noreferrer nofollow";
      link.target = "_blank";
      node.appendChild(link);
      last = match.index + url.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) {
      appendMentions(node, text.slice(last), me);
    }
  };

  // ---------------------------------------------------------------- the tab title

  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
  C.unreadTotal = 0;

  /** "(3) Lobby · Chat"; no prefix at zero. */
  C.setUnreadTotal = function (n) {
    n = Math.max(0, Math.floor(Number(n) || 0));
    C.unreadTotal = n;
    var title = (n > 0 ? "(" + (n > 999 ? "999+" : n) + ") " : "") + baseTitle;
    if (document.title !== title) {
      document.title = title;
    }
  };

  C.setBaseTitle = function (title) {
    baseTitle = title;
    C.setUnreadTotal(C.unreadTotal);
  };

  var initial = /^\((\d+)\)/.exec(document.title);
  C.unreadTotal = initial ? Number(initial[1]) : 0;

  // ---------------------------------------------------------------- toasts

  var toastArea = null;

  /** A short message at the bottom of the screen; with `href`, the toast is a link. */
  C.toast = function (text, href) {
    if (!toastArea) {
      toastArea = el("div", "toast-area");
      toastArea.setAttribute("role", "status");
      toastArea.setAttribute("aria-live", "polite");
      document.body.appendChild(toastArea);
    }
    var node;
    if (href) {
      node = el("a", "toast toast-link");
      node.href = href;
      node.appendChild(el("span", "toast-text", text));
      node.appendChild(el("span", "toast-action", "Open"));
    } else {
      node = el("div", "toast", text);
    }
    toastArea.appendChild(node);
    while (toastArea.children.length > TOASTS_SHOWN) {
      toastArea.firstElementChild.remove();
    }
    setTimeout(function () {
      node.remove();
    }, TOAST_MS);
    return node;
  };

  // ---------------------------------------------------------------- notifications

  C.roomNames = {}; // slug -> how to name the room, where the page knows it

  /** True when a `notify` frame is about a direct conversation (else: a mention). */
  C.notifyIsDirect = function (frame) {
    if (typeof frame.room_kind === "string") {
      return frame.room_kind === "direct";
    }
    return C.isDirect(frame.room);
  };

  /** How to name the room of a `notify` frame: "#<its name>", from the frame itself. */
  function roomLabel(frame) {
    if (typeof frame.room_name === "string" && frame.room_name) {
      return "#" + frame.room_name;
    }
    return C.roomNames[frame.room] || "#" + frame.room; // an older server: what the page knows
  }

  /** What to say about a `notify` frame: a direct message (named by its author), or a
   * mention elsewhere (named by the room). */
  C.describeNotify = function (frame) {
    var author = frame.message.author;
    if (C.notifyIsDirect(frame)) {
      return { title: "New message from " + author, direct: true };
    }
    return { title: author + " mentioned you in " + roomLabel(frame), direct: false };
  };

  /** The other person of a direct conversation, from its room name ("alice & bob"). */
  C.directPartner = function (frame) {
    var names = typeof frame.room_name === "string" ? frame.room_name.split(" & ") : [];
    if (names.length !== 2) {
      return null;
    }
    if (names[0] === C.me && names[1] !== C.me) {
      return names[1];
    }
    if (names[1] === C.me && names[0] !== C.me) {
      return names[0];
    }
    return null;
  };

  function notificationsSupported() {
    return typeof window.Notification === "function";
  }

  function optedIn() {
    try {
      return window.localStorage.getItem(NOTIFY_KEY) === "on";
    } catch (err) {
      return false;
    }
  }

  function setOptIn(on) {
    try {
      if (on) {
        window.localStorage.setItem(NOTIFY_KEY, "on");
      } else {
        window.localStorage.removeItem(NOTIFY_KEY);
      }
    } catch (err) {
      // private mode: the choice lasts for this page only
    }
  }

  C.desktopEnabled = function () {
    return notificationsSupported() && Notification.permission === "granted" && optedIn();
  };

  var bell = document.getElementById("notify-toggle");

  function renderBell() {
    if (!bell) {
      return;
    }
    if (!notificationsSupported() || Notification.permission === "denied") {
      bell.hidden = true;
      return;
    }
    var on = C.desktopEnabled();
    bell.hidden = false;
    bell.classList.toggle("is-on", on);
    bell.setAttribute("aria-pressed", on ? "true" : "false");
    var label = on ? "Desktop notifications are on (click to turn off)" : "Enable desktop notifications";
    bell.title = label;
    var text = bell.querySelector(".notify-label");
    if (text) {
      text.textContent = label;
    }
  }

  if (bell) {
    bell.addEventListener("click", function () {
      if (C.desktopEnabled()) {
        setOptIn(false);
        renderBell();
        C.toast("Desktop notifications are off.");
        return;
      }
      if (Notification.permission === "granted") {
        setOptIn(true);
        renderBell();
        C.toast("Desktop notifications are on.");
        return;
      }
      var answered = function (permission) {
        if (permission === "granted") {
          setOptIn(true);
          C.toast("Desktop notifications are on.");
        } else if (permission === "denied") {
          C.toast("Notifications are blocked for this site in your browser's settings.");
        }
        renderBell();
      };
      var asked = Notification.requestPermission(answered); // old Safari: a callback
      if (asked && typeof asked.then === "function") {
        asked.then(answered);
      }
    });
    renderBell();
    // The permission may change in the browser's settings while the page is open.
    if (notificationsSupported() && navigator.permissions && navigator.permissions.query) {
      navigator.permissions
        .query({ name: "notifications" })
        .then(function (status) {
          status.onchange = renderBell;
        })
        .catch(function () {
          // not queryable in this browser: the bell follows clicks only
        });
    }
  }

  /** A desktop notification for a `notify` frame, when opted in and the tab is hidden. */
  C.desktopNotify = function (frame) {
    if (!C.desktopEnabled() || !document.hidden) {
      return null;
    }
    var about = C.describeNotify(frame);
    var url = C.roomUrl(frame.room);
    var note;
    try {
      note = new Notification(about.direct ? frame.message.author : about.title, {
        body: C.oneLine(frame.message.body, 180),
        tag: "chat-" + frame.room,
      });
    } catch (err) {
      return null; // e.g. Android Chrome wants a service worker for notifications
    }
    note.onclick = function () {
      window.focus();
      note.close();
      if (window.location.pathname !== url) {
        window.location.assign(url);
      }
    };
    return note;
  };

  /** The usual answer to a `notify` frame: a toast linking to the room, and a desktop
   * notification if the tab is hidden. Nothing for what I wrote myself (another tab). */
  C.announce = function (frame, options) {
    if (!frame || !frame.message || frame.message.author === C.me) {
      return;
    }
    options = options || {};
    if (options.toast !== false) {
      C.toast(C.describeNotify(frame).title, C.roomUrl(frame.room));
    }
    C.desktopNotify(frame);
  };

  /** True for a well-formed `notify` frame. */
  C.validNotify = function (frame) {
    return (
      !!frame &&
      typeof frame.room === "string" &&
      !!frame.message &&
      typeof frame.message.author === "string" &&
      typeof frame.message.body === "string"
    );
  };

  // ---------------------------------------------------------------- the user's socket

  C.socketUrl = function (path) {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + path;
  };

  /** Exponential backoff with full jitter. */
  C.backoff = function (attempt) {
    return Math.random() * Math.min(C.BACKOFF_CAP, C.BACKOFF_BASE * Math.pow(2, attempt));
  };

  /**
   * A WebSocket on `url` that keeps itself open: the room page's socket (chat.js) and the
   * user's socket on /ws/lobby/ (below). It reconnects after a close or a drop, with
   * exponential backoff and full jitter unless told a delay; gives up on a socket that sends
   * no `ready` within `readyTimeout` ms; stays quiet while the browser is offline and tries
   * again as soon as it is back. What the frames mean is the page's business, through hooks:
   * - frame(frame): a frame (an object with a string `type`) arrived on the current socket;
   * - connecting(): a socket is about to open;
   * - offline(): the browser is offline and there is no socket;
   * - probe(): the browser went offline while a socket is open (it may linger: ping it);
   * - lost(code): the socket is gone (code null: the client dropped it); the hook decides:
   *   schedule(delay) (delay omitted: backoff) or stop();
   * - scheduled(delay): a reconnect is due in `delay` ms (at `reconnectAt`).
   * The page calls markReady() on `ready`, and may ping with keepAlive/watchPong/pongArrived.
   */
  C.Connection = function (url, hooks, readyTimeout) {
    this.url = url;
    this.hooks = hooks;
    this.readyTimeout = readyTimeout || C.READY_TIMEOUT;
    this.ws = null;
    this.ready = false; // a `ready` frame arrived on the current socket
    this.everReady = false; // a `ready` frame arrived on some socket of this page
    this.stopped = false; // a close code that forbids reconnecting
    this.attempt = 0;
    this.reconnectAt = 0;
    this.reconnectTimer = null;
    this.readyTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    var conn = this;
    window.addEventListener("offline", function () {
      if (conn.ws) {
        conn.hooks.probe(); // the socket may linger for a long time; a ping tells soon
      } else if (!conn.stopped) {
        clearTimeout(conn.reconnectTimer);
        conn.hooks.offline();
      }
    });
    window.addEventListener("online", function () {
      if (!conn.ws && !conn.stopped) {
        conn.attempt = 0;
        conn.connect();
      }
    });
  };

  C.Connection.prototype = {
    connect: function () {
      var conn = this;
      clearTimeout(conn.reconnectTimer);
      conn.reconnectTimer = null;
      if (conn.stopped || conn.ws) {
        return;
      }
      if (navigator.onLine === false) {
        conn.hooks.offline();
        return;
      }
      conn.hooks.connecting();
      var ws;
      try {
        ws = new WebSocket(conn.url);
      } catch (err) {
        conn.schedule();
        return;
      }
      conn.ws = ws;
      conn.ready = false;
      ws.onmessage = function (event) {
        var frame;
        try {
          frame = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        if (conn.ws === ws && frame && typeof frame.type === "string") {
          conn.hooks.frame(frame);
        }
      };
      ws.onclose = function (event) {
        if (conn.ws === ws) {
          conn.lost(event.code);
        }
      };
      conn.readyTimer = setTimeout(function () {
        if (conn.ws === ws && !conn.ready) {
          conn.drop();
        }
      }, conn.readyTimeout);
    },

    /** Give up on the current socket (dead or stuck) and reconnect. */
    drop: function () {
      var ws = this.ws;
      if (!ws) {
        return;
      }
      ws.onmessage = null;
      ws.onclose = null;
      try {
        ws.close(4000, "client gave up");
      } catch (err) {
        // closing a broken socket may throw; it is gone either way
      }
      this.lost(null);
    },

    lost: function (code) {
      this.ws = null;
      this.ready = false;
      clearTimeout(this.readyTimer);
      clearInterval(this.pingTimer);
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
      this.hooks.lost(code);
    },

    /** Reconnect in `delay` ms; omitted: exponential backoff with full jitter. */
    schedule: function (delay) {
      if (delay === undefined) {
        delay = C.backoff(this.attempt);
      }
      this.attempt += 1;
      this.reconnectAt = Date.now() + delay;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(this.connect.bind(this), delay);
      this.hooks.scheduled(delay);
    },

    /** No more reconnecting. */
    stop: function () {
      this.stopped = true;
      clearTimeout(this.reconnectTimer);
    },

    /** Reconnect now rather than when scheduled. */
    retryNow: function () {
      if (this.ws || this.stopped) {
        return;
      }
      this.connect();
    },

    /** The socket said `ready`; true if an earlier socket of this page did too. */
    markReady: function () {
      clearTimeout(this.readyTimer);
      var reconnect = this.everReady;
      this.ready = true;
      this.everReady = true;
      this.attempt = 0;
      return reconnect;
    },

    /** Send text if the socket is open; false if not. */
    send: function (text) {
      var ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return false;
      }
      ws.send(text);
      return true;
    },

    /** Call `beat` every `every` ms while this socket lasts. */
    keepAlive: function (beat, every) {
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(beat, every);
    },

    /** A ping went out: drop the socket unless a pong comes within `timeout` ms. */
    watchPong: function (timeout) {
      var conn = this;
      if (!conn.pongTimer) {
        conn.pongTimer = setTimeout(function () {
          conn.pongTimer = null;
          conn.drop();
        }, timeout || C.PONG_TIMEOUT);
      }
    },

    pongArrived: function () {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    },
  };

  /**
   * Open /ws/lobby/ and keep it open. `handlers` may have ready(frame, reconnect),
   * notify(frame), unread(frame), status(state) with state one of "connecting", "connected",
   * "reconnecting", "offline", "ended".
   */
  C.startUserSocket = function (handlers) {
    handlers = handlers || {};
    C.socketStarted = true;

    function status(state) {
      if (handlers.status) {
        handlers.status(state);
      }
    }

    function ping() {
      if (conn.send('{"type":"ping"}')) {
        conn.watchPong(C.PONG_TIMEOUT);
      }
    }

    function lost(code) {
      if (code === 4401 || code === 4403) {
        conn.stop();
        status("ended");
      } else if (navigator.onLine === false) {
        status("offline");
      } else if (code === 4429) {
        conn.schedule(C.FLOOD_DELAY_MIN + Math.random() * C.FLOOD_DELAY_SPAN);
      } else {
        conn.schedule();
      }
    }

    function receive(frame) {
      if (frame.type === "ready") {
        var reconnect = conn.markReady();
        if (frame.me && frame.me.username) {
          C.me = frame.me.username;
        }
        conn.keepAlive(ping, C.PING_EVERY);
        status("connected");
        if (handlers.ready) {
          handlers.ready(frame, reconnect);
        }
      } else if (frame.type === "pong") {
        conn.pongArrived();
      } else if (frame.type === "notify") {
        if (C.validNotify(frame) && handlers.notify) {
          handlers.notify(frame);
        }
      } else if (frame.type === "unread") {
        if (typeof frame.room === "string" && typeof frame.unread === "number" && handlers.unread) {
          handlers.unread(frame);
        }
      }
    }

    var conn = new C.Connection(C.socketUrl("/ws/lobby/"), {
      frame: receive,
      connecting: function () {
        status(conn.everReady ? "reconnecting" : "connecting");
      },
      offline: function () {
        status("offline");
      },
      probe: ping,
      lost: lost,
      scheduled: function () {
        status("reconnecting");
      },
    });
    conn.connect();
    return conn;
  };

  /** Unread counts per room, for the title of pages that only follow the user's socket. */
  C.UnreadCounts = function () {
    this.counts = {};
  };
  C.UnreadCounts.prototype = {
    reset: function (map) {
      var counts = {};
      Object.keys(map || {}).forEach(function (slug) {
        var n = Number(map[slug]);
        if (n > 0) {
          counts[slug] = n;
        }
      });
      this.counts = counts;
    },
    set: function (slug, n) {
      if (n > 0) {
        this.counts[slug] = n;
      } else {
        delete this.counts[slug];
      }
    },
    add: function (slug, n) {
      this.set(slug, (this.counts[slug] || 0) + n);
    },
    get: function (slug) {
      return this.counts[slug] || 0;
    },
    total: function (except) {
      var counts = this.counts;
      return Object.keys(counts).reduce(function (sum, slug) {
        return slug === except ? sum : sum + counts[slug];
      }, 0);
    },
  };

  // ---------------------------------------------------------------- small page behaviours

  /** Avatars rendered by the server get the same colour as those made here. */
  Array.prototype.forEach.call(document.querySelectorAll(".avatar[data-name]"), function (node) {
    node.classList.add(C.colorClass(node.dataset.name));
  });

  /** The header's account menu (a <details>): a click elsewhere or Escape closes it. */
  var userMenu = document.getElementById("user-menu");
  if (userMenu) {
    document.addEventListener("click", function (event) {
      if (userMenu.open && !userMenu.contains(event.target)) {
        userMenu.open = false;
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && userMenu.open) {
        userMenu.open = false;
        userMenu.querySelector("summary").focus();
      }
    });
  }

  /** Forms with data-confirm ask first (e.g. blocking someone). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  /** Inputs with data-user-suggest get a datalist of matching usernames. */
  C.suggestUsers = function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) {
      return;
    }
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (!q || q === asked) {
          return;
        }
        asked = q;
        C.searchUsers(q).then(function (users) {
          if (input.value.trim() !== q) {
            return;
          }
          list.textContent = "";
          users.forEach(function (name) {
            var option = el("option");
            option.value = name;
            list.appendChild(option);
          });
        });
      }, 250);
    });
  };

  /** Usernames starting with `q` (not mine), at most 10; [] on any failure. */
  C.searchUsers = function (q) {
    return fetch("/api/users/?q=" + encodeURIComponent(q), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : { users: [] };
      })
      .then(function (data) {
        return Array.isArray(data.users)
          ? data.users.filter(function (u) {
              return typeof u === "string";
            })
          : [];
      })
      .catch(function () {
        return [];
      });
  };

  Array.prototype.forEach.call(document.querySelectorAll("input[data-user-suggest]"), C.suggestUsers);

  /** Pages without a live script of their own still follow my unread count and notifications. */
  document.addEventListener("DOMContentLoaded", function () {
    if (C.socketStarted || !C.me) {
      return;
    }
    var counts = new C.UnreadCounts();
    C.startUserSocket({
      ready: function (frame) {
        counts.reset(frame.unread);
        C.setUnreadTotal(counts.total());
      },
      notify: function (frame) {
        if (frame.message.author !== C.me) {
          counts.add(frame.room, 1);
          C.setUnreadTotal(counts.total());
        }
        C.announce(frame);
      },
      unread: function (frame) {
        counts.set(frame.room, frame.unread);
        C.setUnreadTotal(counts.total());
      },
    });
  });
})();
