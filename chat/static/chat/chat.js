/*
 * The chat room's browser client: plain JavaScript, no build step, no libraries.
 *
 * It speaks the WebSocket protocol of docs/protocol.md on /ws/rooms/<slug>/:
 * - reconnects by itself (exponential backoff, full jitter) and catches up with
 *   `history after=<highest id seen>`, so every missed message shows exactly once; while
 *   connected it asks the same every SYNC_EVERY, for a message whose broadcast was lost
 *   (a worker that died between storing and sending it: docs/reliability.md);
 * - sends each message with a client_id, shows it at once as pending, and re-sends it with
 *   the same client_id after a reconnect until the server's `message` confirms it;
 * - loads older messages when scrolled to the top, keeps the view pinned to the bottom;
 * - edits, deletes, reports, typing, presence, members, read marks, ping/pong keep-alive;
 * - the room's policy, live (`ready.room`, then `room` frames): topic, slow mode (an indicator,
 *   and a "wait N s" hint on a message it holds back), announcement rooms (the composer is
 *   closed to members who are not moderators);
 * - close codes: a ban or removal (4403) ends the page's socket for good, flooding (4429)
 *   and a server in trouble (4503) reconnect after a pause, with a countdown;
 * - what concerns me elsewhere: `ready.unread` (my counts in every room) then `notify` (a
 *   toast, a desktop notification when the tab is hidden) and `unread` keep the tab title's
 *   unread count; in a direct room, `read` frames and `ready.read_marks` put "Seen" under my
 *   latest message the other person has read.
 *
 * Shared helpers (DOM, text with links and mentions, toasts, notifications, the title, the
 * reconnecting socket C.Connection) live in common.js, loaded before this file.
 *
 * Matching errors to requests: an `error` answering a send names its `client_id`, which
 * finds the pending message exactly. For the other frames (edit, delete, report, history),
 * and for a server that does not name it: the server answers the frames of one socket in
 * order, and its direct replies (`error`, `history`, `report.ack`, `pong`) keep that order,
 * while broadcasts (`message`, `message.edited`...) may come at any time. So every frame that
 * can fail is followed by a `ping` (a fence): an `error` belongs to the oldest frame whose
 * fence has not been answered, and a `pong` tells that the frames before it succeeded.
 *
 * User text only ever reaches the page through textContent / createTextNode.
 */
(function () {
  "use strict";

  var C = window.ChatCommon;
  var root = document.getElementById("chat");
  if (!root || !C) {
    return;
  }
  C.socketStarted = true; // this page's room socket hears notify and unread itself

  var cfg = {
    slug: root.dataset.slug,
    roomName: root.dataset.roomName || root.dataset.slug,
    roomKind: root.dataset.roomKind || "public",
    title: root.dataset.title || root.dataset.roomName || root.dataset.slug,
    totalUnread: Number(root.dataset.totalUnread) || 0,
    me: root.dataset.username,
    moderator: root.dataset.moderator === "true",
    lastRead: root.dataset.lastRead ? Number(root.dataset.lastRead) : null,
    wsPath: root.dataset.wsPath,
    loginUrl: root.dataset.loginUrl || "/accounts/login/",
    lobbyUrl: root.dataset.lobbyUrl || "/",
    defaultTopic: root.dataset.defaultTopic || "",
  };

  var PING_EVERY = 25000;
  var SYNC_EVERY = 2; // keep-alives: a catch-up `history after` every 50 s
  var PONG_TIMEOUT = 10000;
  // Generous: a server working through a reconnect storm is slow, not dead, and giving up
  // early only makes the storm worse. Pings catch a dead connection.
  var READY_TIMEOUT = 60000;
  var FLOOD_DELAY_MIN = 30000;
  var FLOOD_DELAY_SPAN = 30000;
  var TYPING_EVERY = 2000;
  var TYPING_SHOWN = 3000;
  var GROUP_WITHIN = 5 * 60 * 1000;
  var CONFIRM_WAIT = 5000;
  var READ_DEBOUNCE = 500;
  var PAGE = 50;
  var CATCH_UP_PAGE = 100;
  var MAX_BODY = 4000;
  var MAX_REASON = 500;

  var $ = function (id) {
    return document.getElementById(id);
  };
  var ui = {
    log: $("log"),
    list: $("messages"),
    pending: $("pending"),
    logStart: $("log-start"),
    logStartText: $("log-start-text"),
    newMessages: $("new-messages"),
    typing: $("typing"),
    form: $("composer"),
    input: $("composer-input"),
    send: $("composer-send"),
    status: $("conn-status"),
    statusText: $("conn-text"),
    notice: $("room-notice"),
    members: $("member-list"),
    memberCount: $("member-count"),
    memberCountToggle: $("member-count-toggle"),
    membersToggle: $("members-toggle"),
    membersClose: $("members-close"),
    roomName: $("room-name"),
    roomTopic: $("room-topic"),
    slowFlag: $("slow-mode-flag"),
    slowText: $("slow-mode-text"),
    postingFlag: $("posting-flag"),
    reportDialog: $("report-dialog"),
    reportForm: $("report-form"),
    reportAuthor: $("report-author"),
    reportBody: $("report-body"),
    reportReason: $("report-reason"),
    reportCount: $("report-count"),
    reportCancel: $("report-cancel"),
  };
  var composerPlaceholder = ui.input.getAttribute("placeholder") || "";

  var state = {
    // the socket itself (open, ready, stopped, timers) is `conn`, below
    countdownTimer: null,
    expect: [], // what the server still owes a direct answer for, in order
    lastId: 0, // the highest message id seen
    reachedStart: false,
    loadingOlder: false,
    catchingUp: false,
    outbox: [], // unconfirmed sends, oldest first
    inFlight: null, // the one send the server has not yet answered
    pausedUntil: 0, // rate limited: no send before this time
    pauseTimer: null,
    members: [],
    online: new Set(),
    typing: new Map(),
    lastTypingSent: 0,
    readSent: cfg.lastRead || 0,
    readTimer: null,
    atBottom: true,
    otherRead: null, // direct rooms: how far the other person has read
    seenEl: null,
    unreadElsewhere: null, // my unread counts in the other rooms (ready.unread), once known
    unreadRest: 0, // until then: the page's total less this room's share
    slowMode: Number(root.dataset.slowMode) || 0, // seconds between a member's messages
    posting: root.dataset.posting === "moderators" ? "moderators" : "everyone",
    waitTicker: null, // refreshes "Slow mode: wait N s" while a message waits
    noticeKind: null, // "flood" or "unavailable": the notice counts down to the reconnect
    reportId: null, // the message the report dialog is about
  };
  var messages = new Map(); // id -> {data, el}

  // The socket: C.Connection (common.js) reconnects; what follows here reads its frames.
  var conn = new C.Connection(
    C.socketUrl(cfg.wsPath),
    {
      frame: receive,
      connecting: function () {
        clearInterval(state.countdownTimer);
        setStatus("connecting", conn.everReady ? "Reconnecting…" : "Connecting…");
        if (countdownNotice(0)) {
          showNotice([countdownNotice(0)], true);
        }
      },
      offline: function () {
        clearInterval(state.countdownTimer);
        setStatus("offline", "Offline");
      },
      probe: fence,
      lost: lost,
      scheduled: showCountdown,
    },
    READY_TIMEOUT
  );

  // ---------------------------------------------------------------- small helpers

  var el = C.el;
  var avatar = C.avatar;
  var toast = C.toast;

  function newClientId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      return c.randomUUID();
    }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
  var dayFormat = new Intl.DateTimeFormat(undefined, {
    weekday: "long",
    month: "long",
    day: "numeric",
    year: "numeric",
  });

  function dayKey(date) {
    return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
  }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(date) === dayKey(today)) {
      return "Today";
    }
    if (dayKey(date) === dayKey(yesterday)) {
      return "Yesterday";
    }
    return dayFormat.format(date);
  }

  function parseDate(iso) {
    var d = iso ? new Date(iso) : new Date();
    return isNaN(d.getTime()) ? new Date() : d;
  }

  // ---------------------------------------------------------------- rendering messages

  /** The body as text nodes, with http(s) addresses as links and @mentions marked. */
  function renderBody(node, text) {
    C.renderText(node, text, cfg.me);
  }

  function mentionsMe(text) {
    return C.mentionsMe(text, cfg.me);
  }

  /** The element of one message; pending ones use the same shape. */
  function buildMessage(author, created) {
    var li = el("li", "msg");
    li.dataset.author = author;
    li.dataset.ts = String(created.getTime());

    var day = el("div", "day-divider");
    day.appendChild(el("span", null, dayLabel(created)));
    li.appendChild(day);
    var unread = el("div", "unread-divider");
    unread.appendChild(el("span", null, "New"));
    li.appendChild(unread);

    var row = el("div", "msg-row");
    row.appendChild(avatar(author, "msg-avatar"));

    var meta = el("div", "msg-meta");
    meta.appendChild(el("span", "msg-author", author));
    var time = el("time", "msg-time", timeFormat.format(created));
    time.dateTime = created.toISOString();
    time.title = fullFormat.format(created);
    meta.appendChild(time);
    row.appendChild(meta);

    var sideTime = el("span", "msg-side-time", timeFormat.format(created));
    sideTime.title = fullFormat.format(created);
    sideTime.setAttribute("aria-hidden", "true");
    row.appendChild(sideTime);

    row.appendChild(el("p", "msg-body"));
    li.appendChild(row);
    return li;
  }

  function fillBody(li, data) {
    var body = li.querySelector(".msg-body");
    renderBody(body, data.body);
    if (data.edited) {
      var edited = el("span", "msg-edited", "(edited)");
      edited.title = "Edited " + fullFormat.format(parseDate(data.edited));
      body.appendChild(edited);
    }
    li.classList.toggle("is-mention", data.author !== cfg.me && mentionsMe(data.body));
  }

  function renderMessage(data) {
    var li = buildMessage(data.author, parseDate(data.created));
    li.id = "msg-" + data.id;
    li.dataset.id = String(data.id);
    fillBody(li, data);
    var mine = data.author === cfg.me;
    var actions = el("div", "msg-actions");
    if (mine) {
      actions.appendChild(actionButton("edit", "Edit", "Edit this message"));
    } else {
      actions.appendChild(actionButton("report", "Report", "Report this message to the moderators"));
    }
    if (mine || cfg.moderator) {
      actions.appendChild(actionButton("delete", "Delete", "Delete this message", "msg-action-danger"));
    }
    li.querySelector(".msg-row").appendChild(actions);
    return li;
  }

  function actionButton(action, text, label, extra) {
    var button = el("button", "msg-action" + (extra ? " " + extra : ""), text);
    button.type = "button";
    button.dataset.action = action;
    button.setAttribute("aria-label", label);
    return button;
  }

  function previousOf(li) {
    if (li.previousElementSibling) {
      return li.previousElementSibling;
    }
    return li.parentNode === ui.pending ? ui.list.lastElementChild : null;
  }

  /** Day dividers and grouping: same author within a few minutes shows the name once. */
  function regroup(li) {
    if (!li) {
      return;
    }
    var prev = previousOf(li);
    var ts = Number(li.dataset.ts);
    var newDay = !prev || dayKey(new Date(Number(prev.dataset.ts))) !== dayKey(new Date(ts));
    var continued =
      !!prev &&
      !newDay &&
      !li.classList.contains("is-first-unread") &&
      prev.dataset.author === li.dataset.author &&
      ts - Number(prev.dataset.ts) < GROUP_WITHIN &&
      ts >= Number(prev.dataset.ts);
    li.classList.toggle("is-new-day", newDay);
    li.classList.toggle("is-continued", continued);
  }

  function regroupAround(li) {
    regroup(li);
    var next = li.nextElementSibling;
    if (next) {
      regroup(next);
    } else if (li.parentNode === ui.list) {
      regroup(ui.pending.firstElementChild);
    }
  }

  /** Insert or update a message, in id order, each id once. Returns true when it was new. */
  function upsert(data) {
    if (!data || typeof data.id !== "number") {
      return false;
    }
    if (data.id > state.lastId) {
      state.lastId = data.id;
    }
    var known = messages.get(data.id);
    if (known) {
      if (known.data.body !== data.body || known.data.edited !== data.edited) {
        known.data = data;
        fillBody(known.el, data);
      }
      return false;
    }
    var li = renderMessage(data);
    messages.set(data.id, { data: data, el: li });
    var after = ui.list.lastElementChild;
    while (after && Number(after.dataset.id) > data.id) {
      after = after.previousElementSibling;
    }
    ui.list.insertBefore(li, after ? after.nextElementSibling : ui.list.firstElementChild);
    regroupAround(li);
    if (messages.size === 1) {
      updateLogStart();
    }
    return true;
  }

  function removeMessage(id) {
    var known = messages.get(id);
    if (!known) {
      return;
    }
    messages.delete(id);
    var next = known.el.nextElementSibling || (known.el.parentNode === ui.list ? ui.pending.firstElementChild : null);
    if (known.el.classList.contains("is-first-unread") && known.el.nextElementSibling) {
      known.el.nextElementSibling.classList.add("is-first-unread");
    }
    known.el.remove();
    regroup(next);
    if (known.el.contains(state.seenEl)) {
      updateSeen();
    }
    if (!messages.size) {
      updateLogStart();
    }
  }

  function oldestId() {
    var first = ui.list.firstElementChild;
    return first ? Number(first.dataset.id) : null;
  }

  function newestId() {
    var last = ui.list.lastElementChild;
    return last ? Number(last.dataset.id) : null;
  }

  function markFirstUnread(lastRead) {
    if (lastRead === null) {
      return;
    }
    var items = ui.list.children;
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      if (Number(li.dataset.id) > lastRead && li.dataset.author !== cfg.me) {
        if (i > 0) {
          li.classList.add("is-first-unread");
          regroup(li);
        }
        return;
      }
    }
  }

  function updateLogStart() {
    ui.logStart.classList.toggle("is-beginning", state.reachedStart);
    ui.logStartText.textContent = "";
    if (state.reachedStart) {
      if (cfg.roomKind === "direct") {
        ui.logStartText.appendChild(el("span", "log-start-title", "@" + cfg.title));
        ui.logStartText.appendChild(
          document.createTextNode(
            messages.size
              ? "This is the beginning of your direct messages with " + cfg.title + "."
              : "No messages yet. Say hello to " + cfg.title + "!"
          )
        );
      } else {
        var mark = cfg.roomKind === "public" ? "#" : "";
        ui.logStartText.appendChild(el("span", "log-start-title", "Welcome to " + mark + cfg.roomName));
        ui.logStartText.appendChild(
          document.createTextNode(
            messages.size ? "This is the beginning of the conversation." : "No messages yet. Say hello!"
          )
        );
      }
    } else if (state.loadingOlder) {
      ui.logStartText.textContent = "Loading older messages…";
    } else if (conn.everReady) {
      ui.logStartText.textContent = "Scroll up for older messages";
    } else {
      ui.logStartText.textContent = "Loading messages…";
    }
  }

  // ---------------------------------------------------------------- scrolling

  function distanceFromBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight;
  }

  function scrollToBottom() {
    ui.log.scrollTop = ui.log.scrollHeight;
    state.atBottom = true;
    ui.newMessages.hidden = true;
  }

  /** Run a change to the log, keeping the view pinned to the bottom if it was. */
  function changeLog(change, announceNew) {
    var wasAtBottom = state.atBottom;
    var added = change();
    if (wasAtBottom) {
      scrollToBottom();
    } else if (added && announceNew) {
      ui.newMessages.hidden = false;
    }
    return added;
  }

  ui.log.addEventListener(
    "scroll",
    function () {
      var wasAtBottom = state.atBottom;
      state.atBottom = distanceFromBottom() < 48;
      if (wasAtBottom !== state.atBottom) {
        refreshTitle();
      }
      if (state.atBottom) {
        ui.newMessages.hidden = true;
        scheduleRead();
      }
      if (ui.log.scrollTop < 120) {
        loadOlder();
      }
    },
    { passive: true }
  );

  ui.newMessages.addEventListener("click", function () {
    scrollToBottom();
    scheduleRead();
  });

  if (typeof ResizeObserver === "function") {
    new ResizeObserver(function () {
      if (state.atBottom) {
        ui.log.scrollTop = ui.log.scrollHeight;
      }
    }).observe(ui.log);
  }

  /** With too few messages to scroll, nobody can scroll up: load older pages by ourselves. */
  function fillUp() {
    if (ui.log.scrollHeight <= ui.log.clientHeight + 8) {
      loadOlder();
    }
  }

  // ---------------------------------------------------------------- connection status

  function setStatus(kind, text, action) {
    ui.status.dataset.state = kind;
    ui.statusText.textContent = text;
    var old = ui.status.querySelector(".link-button");
    if (old) {
      old.remove();
    }
    if (action) {
      var button = el("button", "link-button", action.label);
      button.type = "button";
      button.addEventListener("click", action.run);
      ui.status.appendChild(button);
    }
  }

  function showNotice(parts, info) {
    ui.notice.textContent = "";
    parts.forEach(function (part) {
      if (typeof part === "string") {
        ui.notice.appendChild(document.createTextNode(part));
      } else {
        var link = el("a", null, part.text);
        link.href = part.href;
        ui.notice.appendChild(link);
      }
    });
    ui.notice.classList.toggle("notice-info", !!info);
    ui.notice.hidden = false;
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  /** Why the socket is away, when it says more than the status does; null: no notice. */
  function countdownNotice(seconds) {
    var when = seconds > 0 ? "reconnecting in " + seconds + " s." : "reconnecting…";
    if (state.noticeKind === "flood") {
      return "Disconnected for flooding; " + when;
    }
    if (state.noticeKind === "unavailable") {
      return "The chat server is unavailable right now; " + when;
    }
    return null;
  }

  function showCountdown() {
    clearInterval(state.countdownTimer);
    var tick = function () {
      var seconds = Math.max(0, Math.ceil((conn.reconnectAt - Date.now()) / 1000));
      setStatus("reconnecting", "Reconnecting in " + seconds + " s", {
        label: "Retry now",
        run: reconnectNow,
      });
      var notice = countdownNotice(seconds);
      if (notice) {
        showNotice([notice], true);
      }
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
  }

  // ---------------------------------------------------------------- the socket

  function reconnectNow() {
    conn.retryNow();
  }

  function lost(code) {
    state.loadingOlder = false;
    state.catchingUp = false;
    state.expect = [];
    state.inFlight = null;
    state.outbox.forEach(function (entry) {
      clearTimeout(entry.confirmTimer);
      if (entry.state === "sent") {
        entry.state = "queued";
      }
      updatePending(entry);
    });
    clearTyping();

    if (code === 4401) {
      stop("closed", "Session ended", [
        "Your session has ended. ",
        { text: "Log in again", href: cfg.loginUrl },
        " to keep chatting.",
      ]);
    } else if (code === 4403 && conn.everReady) {
      // Banned, or removed from a private room, while here (or while away).
      stop("closed", "Removed", [
        "You were removed from this room. ",
        { text: "Back to the lobby", href: cfg.lobbyUrl },
      ]);
    } else if (code === 4403) {
      stop("closed", "No access", [
        "You do not have access to this room: it is for its members only, or you were banned from it. ",
        { text: "Back to the lobby", href: cfg.lobbyUrl },
      ]);
    } else if (code === 4404) {
      stop("closed", "No such room", [
        "This room does not exist (any more). ",
        { text: "Back to the lobby", href: cfg.lobbyUrl },
      ]);
    } else if (code === 4429) {
      state.noticeKind = "flood";
      conn.schedule(FLOOD_DELAY_MIN + Math.random() * FLOOD_DELAY_SPAN);
    } else if (navigator.onLine === false) {
      setStatus("offline", "Offline");
    } else {
      if (code === 4503) {
        state.noticeKind = "unavailable"; // the database or Redis failed: back off and retry
      } else if (state.noticeKind) {
        state.noticeKind = null;
        hideNotice();
      }
      conn.schedule();
    }
  }

  function stop(kind, statusText, noticeParts) {
    conn.stop();
    state.noticeKind = null;
    clearInterval(state.countdownTimer);
    clearTimeout(state.pauseTimer);
    closeReport();
    setStatus(kind, statusText);
    showNotice(noticeParts, false);
    ui.input.disabled = true;
    ui.send.disabled = true;
    state.outbox.forEach(updatePending);
    state.online = new Set(); // who is online is unknown from here on
    renderMembers();
  }

  /** Send one frame. Frames that can fail get a fence; see the top of this file. */
  function request(frame, kind, ctx) {
    if (!conn.send(JSON.stringify(frame))) {
      return false;
    }
    state.expect.push({ kind: kind, ctx: ctx || null });
    if (kind !== "history") {
      fence();
    }
    return true;
  }

  function keepAlive() {
    fence();
    state.beats += 1;
    if (state.beats % SYNC_EVERY === 0 && !state.catchingUp && state.lastId) {
      state.catchingUp = true;
      request({ type: "history", after: state.lastId, limit: CATCH_UP_PAGE }, "history", { dir: "after" });
    }
  }

  function fence() {
    if (conn.send('{"type":"ping"}')) {
      state.expect.push({ kind: "fence" });
      conn.watchPong(PONG_TIMEOUT);
    }
  }

  /** A request answered without an error. */
  function succeeded(entry) {
    if (entry.kind === "send") {
      var pending = entry.ctx;
      if (state.outbox.indexOf(pending) !== -1) {
        // Stored; the broadcast `message` confirms it. Should the broadcast be lost, asking
        // again with the same client_id makes the server repeat the original `message`.
        clearTimeout(pending.confirmTimer);
        pending.confirmTimer = setTimeout(function () {
          if (state.outbox.indexOf(pending) !== -1 && pending.state === "sent") {
            pending.state = "queued";
            if (state.inFlight === pending) {
              state.inFlight = null;
            }
            pump();
          }
        }, CONFIRM_WAIT);
      }
    }
  }

  function onPong() {
    conn.pongArrived();
    while (state.expect.length) {
      var entry = state.expect.shift();
      if (entry.kind === "fence") {
        break;
      }
      succeeded(entry);
    }
    var more = state.expect.some(function (e) {
      return e.kind === "fence";
    });
    if (more) {
      conn.watchPong(PONG_TIMEOUT);
    }
  }

  /** The request an `error` (or a `history`) answers: the oldest one still unanswered. */
  function takeAnswered(kind) {
    for (var i = 0; i < state.expect.length; i++) {
      var entry = state.expect[i];
      if (entry.kind === "fence") {
        continue;
      }
      if (kind && entry.kind !== kind) {
        continue;
      }
      state.expect.splice(i, 1);
      return entry;
    }
    return null;
  }

  /** A frame from the server (parsed, with a string `type`: see C.Connection). */
  function receive(frame) {
    switch (frame.type) {
      case "ready":
        onReady(frame);
        break;
      case "message":
        onMessage(frame.message);
        break;
      case "message.edited":
        if (frame.message && messages.has(frame.message.id)) {
          upsert(frame.message);
        }
        break;
      case "message.deleted":
        changeLog(function () {
          removeMessage(frame.id);
        }, false);
        break;
      case "presence":
        state.online = new Set(frame.online || []);
        renderMembers();
        break;
      case "members":
        state.members = frame.members || [];
        renderMembers();
        break;
      case "typing":
        onTyping(frame.user);
        break;
      case "history":
        onHistory(frame);
        break;
      case "error":
        onError(frame);
        break;
      case "pong":
        onPong();
        break;
      case "notify":
        onNotify(frame);
        break;
      case "unread":
        onUnread(frame);
        break;
      case "read":
        onRead(frame);
        break;
      case "room":
        applyRoom(frame.room, true);
        break;
      case "report.ack":
        onReportAck();
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- server frames

  function onReady(frame) {
    var reconnect = conn.markReady();
    var seenBefore = state.lastId;
    state.noticeKind = null;
    hideNotice();
    setStatus("connected", "Connected");

    applyRoom(frame.room, reconnect);
    if (frame.read_marks && typeof frame.read_marks === "object") {
      state.otherRead = null;
      Object.keys(frame.read_marks).forEach(function (name) {
        var mark = frame.read_marks[name];
        if (name !== cfg.me && typeof mark === "number") {
          state.otherRead = Math.max(state.otherRead || 0, mark);
        }
      });
    }
    if (frame.me && frame.me.username) {
      cfg.me = frame.me.username;
    }
    state.members = frame.members || [];
    state.online = new Set(frame.online || []);
    renderMembers();

    var recent = Array.isArray(frame.messages) ? frame.messages : [];
    changeLog(function () {
      if (reconnect) {
        // What was deleted while we were away: gone from the window `ready` covers.
        var floor = recent.length ? recent[0].id : Infinity;
        var present = new Set(
          recent.map(function (m) {
            return m.id;
          })
        );
        Array.from(messages.keys()).forEach(function (id) {
          if (id >= floor && !present.has(id)) {
            removeMessage(id);
          }
        });
      }
      var added = false;
      recent.forEach(function (m) {
        added = upsert(m) || added;
      });
      if (!reconnect) {
        markFirstUnread(frame.last_read === undefined ? cfg.lastRead : frame.last_read);
        if (!recent.length) {
          state.reachedStart = true;
        }
      }
      return added;
    }, reconnect);

    if (reconnect && seenBefore > 0) {
      state.catchingUp = true;
      request({ type: "history", after: seenBefore, limit: CATCH_UP_PAGE }, "history", { dir: "after" });
    }
    if (frame.unread && typeof frame.unread === "object") {
      // My unread count in every room: the title counts the others', and this one's while away.
      var counts = new C.UnreadCounts();
      counts.reset(frame.unread);
      counts.set(cfg.slug, 0);
      state.unreadElsewhere = counts;
    } else if (!reconnect) {
      // A server that does not send them: the page's total less this room's share.
      var lastRead = cfg.lastRead || 0;
      var here = recent.filter(function (m) {
        return m.id > lastRead && m.author !== cfg.me;
      }).length;
      state.unreadRest = Math.max(0, cfg.totalUnread - here);
    }
    changeLog(function () {
      updateSeen();
      return false;
    }, false);
    if (!reconnect) {
      scrollToBottom();
    }
    updateLogStart();
    fillUp();

    state.beats = 0;
    conn.keepAlive(keepAlive, PING_EVERY);
    pump();
    scheduleRead();
    refreshTitle();
  }

  function onMessage(data) {
    if (!data || typeof data.id !== "number") {
      return;
    }
    var mine = data.author === cfg.me;
    var confirmed = null;
    if (mine && data.client_id) {
      confirmed = state.outbox.find(function (entry) {
        return entry.clientId === data.client_id;
      });
    }
    stopTyping(data.author);
    var added = changeLog(function () {
      if (confirmed) {
        removePending(confirmed);
      }
      return upsert(data);
    }, !mine);
    if (confirmed && state.inFlight === confirmed) {
      state.inFlight = null;
    }
    if (confirmed || mine) {
      if (confirmed) {
        scrollToBottom();
      }
      pump();
    }
    if (added) {
      scheduleRead();
      refreshTitle();
    }
  }

  function onHistory(frame) {
    var entry = takeAnswered("history");
    var dir = entry && entry.ctx ? entry.ctx.dir : "before";
    var page = Array.isArray(frame.messages) ? frame.messages : [];
    if (dir === "after") {
      changeLog(function () {
        var added = false;
        page.forEach(function (m) {
          added = upsert(m) || added;
        });
        return added;
      }, true);
      if (frame.has_more && page.length) {
        request(
          { type: "history", after: page[page.length - 1].id, limit: CATCH_UP_PAGE },
          "history",
          { dir: "after" }
        );
      } else {
        state.catchingUp = false;
        scheduleRead();
      }
      changeLog(function () {
        updateSeen();
        return false;
      }, false);
      refreshTitle();
      return;
    }
    // Older messages go on top; keep what the reader looks at in place.
    var height = ui.log.scrollHeight;
    var top = ui.log.scrollTop;
    page.forEach(upsert);
    updateSeen();
    if (!frame.has_more) {
      state.reachedStart = true;
    }
    state.loadingOlder = false;
    updateLogStart();
    if (state.atBottom) {
      scrollToBottom();
    } else {
      ui.log.scrollTop = top + (ui.log.scrollHeight - height);
    }
    if (!state.reachedStart) {
      fillUp();
    }
  }

  /** The unanswered send of that client_id, taken out of the queue; null if none. */
  function takeSend(clientId) {
    for (var i = 0; i < state.expect.length; i++) {
      var entry = state.expect[i];
      if (entry.kind === "send" && entry.ctx && entry.ctx.clientId === clientId) {
        state.expect.splice(i, 1);
        return entry;
      }
    }
    return null;
  }

  function onError(frame) {
    var message = typeof frame.message === "string" && frame.message ? frame.message : "The server refused that.";
    var entry;
    if (typeof frame.client_id === "string") {
      // It names the send it refuses: no guessing from the order.
      entry = takeSend(frame.client_id);
      if (entry) {
        sendFailed(entry.ctx, frame.code, message, frame.retry_after);
      }
      return;
    }
    entry = takeAnswered(null);
    if (!entry) {
      return;
    }
    if (entry.kind === "send") {
      sendFailed(entry.ctx, frame.code, message, frame.retry_after);
    } else if (entry.kind === "edit" || entry.kind === "delete" || entry.kind === "report") {
      toast("Could not " + entry.kind + " the message: " + message);
    } else if (entry.kind === "history") {
      state.loadingOlder = false;
      state.catchingUp = false;
      updateLogStart();
    }
    // `read` and `typing` failures do not matter to the reader.
  }

  // ---------------------------------------------------------------- sending

  function pendingStatus(entry) {
    if (conn.stopped && entry.state !== "failed") {
      return "Not sent";
    }
    if (entry.state === "failed") {
      return "Not sent: " + entry.error;
    }
    if (entry.waitUntil && entry.waitUntil > Date.now()) {
      if (entry.slowMode) {
        return "Slow mode: wait " + Math.ceil((entry.waitUntil - Date.now()) / 1000) + " s";
      }
      return "Sending too fast; retrying shortly…";
    }
    if (!conn.ready) {
      return "Waiting for the connection…";
    }
    return "Sending…";
  }

  function updatePending(entry) {
    var li = entry.el;
    li.classList.toggle("is-failed", entry.state === "failed");
    li.classList.toggle("is-waiting", !conn.stopped && entry.state === "queued" && entry.waitUntil > Date.now());
    var status = li.querySelector(".msg-status");
    status.textContent = "";
    status.appendChild(el("span", "msg-status-text", pendingStatus(entry)));
    if (entry.state === "failed" && !conn.stopped) {
      var retry = el("button", "link-button", "Retry");
      retry.type = "button";
      retry.dataset.action = "retry";
      var discard = el("button", "link-button", "Discard");
      discard.type = "button";
      discard.dataset.action = "discard";
      status.appendChild(retry);
      status.appendChild(discard);
    }
  }

  function addPending(body) {
    var entry = { clientId: newClientId(), body: body, state: "queued", error: null };
    var li = buildMessage(cfg.me, new Date());
    li.classList.add("is-pending");
    li.dataset.clientId = entry.clientId;
    renderBody(li.querySelector(".msg-body"), body);
    var status = el("div", "msg-status");
    status.setAttribute("aria-live", "polite");
    li.querySelector(".msg-row").appendChild(status);
    entry.el = li;
    state.outbox.push(entry);
    ui.pending.appendChild(li);
    regroup(li);
    updatePending(entry);
    scrollToBottom();
    pump();
  }

  function removePending(entry) {
    clearTimeout(entry.confirmTimer);
    var index = state.outbox.indexOf(entry);
    if (index !== -1) {
      state.outbox.splice(index, 1);
    }
    var next = entry.el.nextElementSibling;
    entry.el.remove();
    regroup(next);
  }

  /** Send the oldest queued message; one at a time, so that they arrive in order. */
  function pump() {
    if (!conn.ready || state.inFlight || conn.stopped) {
      return;
    }
    var now = Date.now();
    if (state.pausedUntil > now) {
      clearTimeout(state.pauseTimer);
      state.pauseTimer = setTimeout(pump, state.pausedUntil - now);
      return;
    }
    var entry = state.outbox.find(function (e) {
      return e.state === "queued";
    });
    if (!entry) {
      return;
    }
    entry.waitUntil = 0;
    if (request({ type: "message.send", body: entry.body, client_id: entry.clientId }, "send", entry)) {
      entry.state = "sent";
      state.inFlight = entry;
    }
    updatePending(entry);
  }

  function sendFailed(entry, code, message, retryAfter) {
    if (state.inFlight === entry) {
      state.inFlight = null;
    }
    if (state.outbox.indexOf(entry) === -1) {
      pump();
      return;
    }
    if (code === "rate_limited") {
      // Sent again by itself once the server says it may be; slow mode says how long.
      var wait = Math.max(0.2, Number(retryAfter) || 1) * 1000 + 100;
      state.pausedUntil = Date.now() + wait;
      entry.state = "queued";
      entry.waitUntil = state.pausedUntil;
      entry.slowMode = /^slow mode/i.test(message) || (state.slowMode > 0 && !cfg.moderator);
      tickWaiting();
    } else {
      entry.state = "failed";
      entry.error = C.localTimes(message);
    }
    updatePending(entry);
    pump();
  }

  /** Keep "Slow mode: wait N s" counting down while a message waits. */
  function tickWaiting() {
    if (state.waitTicker) {
      return;
    }
    state.waitTicker = setInterval(function () {
      var now = Date.now();
      var waiting = state.outbox.filter(function (entry) {
        return entry.waitUntil && entry.state === "queued";
      });
      waiting.forEach(updatePending);
      if (
        !waiting.some(function (entry) {
          return entry.waitUntil > now;
        })
      ) {
        clearInterval(state.waitTicker);
        state.waitTicker = null;
      }
    }, 1000);
  }

  function sendFromComposer() {
    if (conn.stopped || composerLocked()) {
      return;
    }
    var body = ui.input.value;
    if (!body.trim()) {
      return;
    }
    if (body.length > MAX_BODY) {
      toast("A message may be at most " + MAX_BODY + " characters.");
      return;
    }
    ui.input.value = "";
    autoGrow();
    state.lastTypingSent = 0;
    addPending(body);
  }

  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendFromComposer();
    ui.input.focus();
  });

  ui.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendFromComposer();
    } else if (event.key === "ArrowUp" && !ui.input.value) {
      var own = Array.from(ui.list.children)
        .reverse()
        .find(function (li) {
          return li.dataset.author === cfg.me;
        });
      if (own) {
        event.preventDefault();
        startEdit(own);
      }
    }
  });

  ui.input.addEventListener("input", function () {
    autoGrow();
    var now = Date.now();
    if (ui.input.value.trim() && conn.ready && now - state.lastTypingSent >= TYPING_EVERY) {
      state.lastTypingSent = now;
      request({ type: "typing" }, "typing");
    }
  });

  var growsByItself = window.CSS && CSS.supports && CSS.supports("field-sizing", "content");

  function autoGrow() {
    if (growsByItself) {
      return;
    }
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight, 192) + "px";
  }

  ui.pending.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) {
      return;
    }
    var li = button.closest(".msg");
    var entry = state.outbox.find(function (e) {
      return e.el === li;
    });
    if (!entry) {
      return;
    }
    if (button.dataset.action === "retry") {
      entry.state = "queued";
      entry.error = null;
      updatePending(entry);
      pump();
    } else if (button.dataset.action === "discard") {
      removePending(entry);
    }
  });

  // ---------------------------------------------------------------- edit and delete

  function startEdit(li) {
    var id = Number(li.dataset.id);
    var known = messages.get(id);
    if (!known || li.classList.contains("is-editing") || conn.stopped) {
      return;
    }
    li.classList.add("is-editing");
    var editor = el("div", "msg-editor");
    var area = el("textarea");
    area.maxLength = MAX_BODY;
    area.rows = 2;
    area.value = known.data.body;
    area.setAttribute("aria-label", "Edit your message");
    var buttons = el("div", "msg-editor-buttons");
    var save = el("button", "button button-small", "Save");
    save.type = "button";
    var cancel = el("button", "button button-quiet button-small", "Cancel");
    cancel.type = "button";
    buttons.appendChild(save);
    buttons.appendChild(cancel);
    buttons.appendChild(el("span", null, "Enter to save · Esc to cancel"));
    editor.appendChild(area);
    editor.appendChild(buttons);
    li.querySelector(".msg-row").appendChild(editor);

    var close = function () {
      editor.remove();
      li.classList.remove("is-editing");
      ui.input.focus();
    };
    var commit = function () {
      var body = area.value;
      var current = messages.get(id);
      if (!current) {
        close();
        return;
      }
      if (!body.trim()) {
        toast("A message cannot be empty; use Delete to remove it.");
        return;
      }
      if (body !== current.data.body) {
        if (!request({ type: "message.edit", id: id, body: body }, "edit", { id: id })) {
          toast("Not connected; the message was not changed.");
          return;
        }
      }
      close();
    };
    save.addEventListener("click", commit);
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        commit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  var selected = null;

  ui.list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) {
      // Touch screens have no hover: a tap on a message shows its buttons.
      var tapped = event.target.closest(".msg");
      if (selected && selected !== tapped) {
        selected.classList.remove("is-selected");
      }
      if (tapped && !event.target.closest("a, textarea")) {
        tapped.classList.toggle("is-selected");
        selected = tapped;
      }
      return;
    }
    var li = button.closest(".msg");
    var id = Number(li.dataset.id);
    if (button.dataset.action === "edit") {
      startEdit(li);
    } else if (button.dataset.action === "delete") {
      if (!window.confirm("Delete this message? This cannot be undone.")) {
        return;
      }
      if (!request({ type: "message.delete", id: id }, "delete", { id: id })) {
        toast("Not connected; the message was not deleted.");
      }
    } else if (button.dataset.action === "report") {
      openReport(id);
    }
  });

  // ---------------------------------------------------------------- reporting a message

  var reportOpener = null;

  function updateReportCount() {
    var n = ui.reportReason.value.length;
    ui.reportCount.textContent = n + " / " + MAX_REASON;
    ui.reportCount.classList.toggle("is-over", n > MAX_REASON);
  }

  function openReport(id) {
    var known = messages.get(id);
    if (!known || conn.stopped) {
      return;
    }
    if (!ui.reportDialog || typeof ui.reportDialog.showModal !== "function") {
      // No <dialog> in this browser: ask in the simplest way.
      var reason = window.prompt("Report this message to the moderators? Optionally, say why:", "");
      if (reason !== null) {
        sendReport(id, reason.slice(0, MAX_REASON));
      }
      return;
    }
    state.reportId = id;
    reportOpener = document.activeElement;
    ui.reportAuthor.textContent = known.data.author + ":";
    ui.reportBody.textContent = C.oneLine(known.data.body, 200);
    ui.reportReason.value = "";
    updateReportCount();
    ui.reportDialog.showModal();
    ui.reportReason.focus();
  }

  function closeReport() {
    state.reportId = null;
    if (ui.reportDialog && ui.reportDialog.open) {
      ui.reportDialog.close();
    }
  }

  function sendReport(id, reason) {
    var frame = { type: "message.report", id: id };
    if (reason.trim()) {
      frame.reason = reason.trim();
    }
    if (!request(frame, "report", { id: id })) {
      toast("Not connected; the message was not reported. Try again in a moment.");
    }
  }

  function onReportAck() {
    takeAnswered("report");
    toast("Reported. Thanks: a moderator will look at it.");
  }

  if (ui.reportDialog) {
    ui.reportReason.addEventListener("input", updateReportCount);
    ui.reportForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var reason = ui.reportReason.value;
      if (reason.length > MAX_REASON) {
        toast("A reason may be at most " + MAX_REASON + " characters.");
        return;
      }
      var id = state.reportId;
      closeReport();
      if (id !== null) {
        sendReport(id, reason);
      }
    });
    ui.reportCancel.addEventListener("click", closeReport);
    ui.reportDialog.addEventListener("close", function () {
      state.reportId = null;
      if (reportOpener && reportOpener.isConnected && typeof reportOpener.focus === "function") {
        reportOpener.focus();
      } else {
        ui.input.focus();
      }
      reportOpener = null;
    });
    // A click on the backdrop (outside the form) cancels.
    ui.reportDialog.addEventListener("click", function (event) {
      if (event.target === ui.reportDialog) {
        closeReport();
      }
    });
  }

  // ---------------------------------------------------------------- the room's policy

  function formatSeconds(seconds) {
    if (seconds >= 3600 && seconds % 3600 === 0) {
      return seconds / 3600 + " h";
    }
    if (seconds >= 60 && seconds % 60 === 0) {
      return seconds / 60 + " min";
    }
    return seconds + " s";
  }

  /** An announcement room, and I am not one of its moderators: I read, I do not post. */
  function composerLocked() {
    return state.posting === "moderators" && !cfg.moderator;
  }

  function renderRoomPolicy() {
    var slow = state.slowMode > 0;
    ui.slowFlag.hidden = !slow;
    if (slow) {
      var every = formatSeconds(state.slowMode);
      ui.slowText.textContent = "Slow mode: " + every;
      ui.slowFlag.title = cfg.moderator
        ? "Members may send one message every " + every + ". Moderators (you) are exempt."
        : "You may send one message every " + every + ".";
    }
    var announcements = state.posting === "moderators";
    ui.postingFlag.hidden = !announcements;
    ui.postingFlag.title = announcements
      ? cfg.moderator
        ? "An announcements room: you may post, as a moderator; members only read."
        : "An announcements room: only moderators post here."
      : "";
    if (conn.stopped) {
      return; // the composer stays closed
    }
    var locked = composerLocked();
    ui.form.classList.toggle("is-locked", locked);
    ui.input.disabled = locked;
    ui.send.disabled = locked;
    ui.input.placeholder = locked ? "Announcements: only moderators post in this room" : composerPlaceholder;
  }

  /** The room as `ready` or a `room` frame describes it: name, topic, slow mode, posting. */
  function applyRoom(room, live) {
    if (!room || typeof room !== "object") {
      return;
    }
    if (cfg.roomKind !== "direct") {
      // A direct room keeps its heading: the other person, not the room's "alice & bob".
      if (typeof room.name === "string" && room.name) {
        cfg.roomName = room.name;
        ui.roomName.textContent = room.name;
      }
      if (typeof room.topic === "string") {
        ui.roomTopic.textContent = room.topic || cfg.defaultTopic;
        ui.roomTopic.title = room.topic;
      }
    }
    var slowBefore = state.slowMode;
    var postingBefore = state.posting;
    if (typeof room.slow_mode === "number" && room.slow_mode >= 0) {
      state.slowMode = Math.floor(room.slow_mode);
    }
    if (room.posting === "moderators" || room.posting === "everyone") {
      state.posting = room.posting;
    }
    renderRoomPolicy();
    if (!live) {
      return;
    }
    if (state.slowMode !== slowBefore) {
      toast(
        state.slowMode
          ? "Slow mode is on: one message every " + formatSeconds(state.slowMode) + (cfg.moderator ? " (moderators are exempt)." : ".")
          : "Slow mode is off."
      );
    }
    if (state.posting !== postingBefore) {
      toast(
        state.posting === "moderators"
          ? "This is now an announcements room: only moderators post."
          : "Everyone may post in this room again."
      );
    }
  }

  // ---------------------------------------------------------------- older messages

  function loadOlder() {
    if (state.loadingOlder || state.reachedStart || !conn.ready) {
      return;
    }
    var before = oldestId();
    if (before === null) {
      return;
    }
    state.loadingOlder = true;
    updateLogStart();
    if (!request({ type: "history", before: before, limit: PAGE }, "history", { dir: "before" })) {
      state.loadingOlder = false;
      updateLogStart();
    }
  }

  // ---------------------------------------------------------------- typing

  function renderTyping() {
    var names = Array.from(state.typing.keys());
    var text = "";
    if (names.length === 1) {
      text = names[0] + " is typing…";
    } else if (names.length === 2) {
      text = names[0] + " and " + names[1] + " are typing…";
    } else if (names.length > 2) {
      text = "Several people are typing…";
    }
    ui.typing.textContent = text;
  }

  function onTyping(user) {
    if (!user || user === cfg.me) {
      return;
    }
    clearTimeout(state.typing.get(user));
    state.typing.set(
      user,
      setTimeout(function () {
        stopTyping(user);
      }, TYPING_SHOWN)
    );
    renderTyping();
  }

  function stopTyping(user) {
    if (state.typing.has(user)) {
      clearTimeout(state.typing.get(user));
      state.typing.delete(user);
      renderTyping();
    }
  }

  function clearTyping() {
    state.typing.forEach(function (timer) {
      clearTimeout(timer);
    });
    state.typing.clear();
    renderTyping();
  }

  // ---------------------------------------------------------------- members

  function renderMembers() {
    var names = new Set(state.members);
    state.online.forEach(function (name) {
      names.add(name);
    });
    var sorted = Array.from(names).sort(function (a, b) {
      var online = Number(state.online.has(b)) - Number(state.online.has(a));
      return online || a.localeCompare(b);
    });
    ui.members.textContent = "";
    sorted.forEach(function (name) {
      var online = state.online.has(name);
      var li = el("li", "member" + (online ? " is-online" : ""));
      li.appendChild(avatar(name, "avatar-sm member-avatar"));
      var label = el("span", "member-name", name);
      if (name === cfg.me) {
        label.appendChild(el("span", "member-you", " (you)"));
      }
      li.appendChild(label);
      li.appendChild(el("span", "member-state", online ? "online" : ""));
      if (!online) {
        li.appendChild(el("span", "visually-hidden", "offline"));
      }
      if (name !== cfg.me && cfg.roomKind !== "direct") {
        var dm = el("a", "member-dm", "Message");
        dm.href = C.dmUrl(name);
        dm.title = "Send " + name + " a direct message";
        dm.setAttribute("aria-label", "Send " + name + " a direct message");
        li.appendChild(dm);
      }
      ui.members.appendChild(li);
    });
    var count = state.online.size + " online · " + sorted.length;
    ui.memberCount.textContent = "(" + sorted.length + ")";
    ui.memberCount.title = count;
    ui.memberCountToggle.textContent = String(sorted.length);
  }

  function setMembersOpen(open) {
    root.classList.toggle("is-members-open", open);
    ui.membersToggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  ui.membersToggle.addEventListener("click", function () {
    setMembersOpen(!root.classList.contains("is-members-open"));
  });
  ui.membersClose.addEventListener("click", function () {
    setMembersOpen(false);
    ui.membersToggle.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && root.classList.contains("is-members-open")) {
      setMembersOpen(false);
    }
  });

  // ---------------------------------------------------------------- read marks

  /** Move the read mark to the newest message, if the reader can see it. */
  function sendRead() {
    clearTimeout(state.readTimer);
    state.readTimer = null;
    var newest = newestId();
    if (
      newest !== null &&
      newest > state.readSent &&
      conn.ready &&
      state.atBottom &&
      request({ type: "read", id: newest }, "read")
    ) {
      state.readSent = newest;
    }
    refreshTitle();
  }

  function scheduleRead() {
    if (document.visibilityState !== "visible" || !conn.ready) {
      return;
    }
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(sendRead, READ_DEBOUNCE);
  }

  document.addEventListener("visibilitychange", function () {
    refreshTitle();
    if (document.visibilityState === "visible") {
      scheduleRead();
    } else if (state.readTimer) {
      sendRead(); // what arrived while visible was seen: do not lose it to the debounce
    }
  });

  window.addEventListener("pagehide", function () {
    if (state.readTimer) {
      sendRead();
    }
  });

  // ---------------------------------------------------------------- elsewhere: notify, unread, the title

  /** This room's unread messages, as far as this page knows; none while the reader reads. */
  function unreadHere() {
    if (document.visibilityState === "visible" && state.atBottom) {
      return 0;
    }
    var n = 0;
    messages.forEach(function (known) {
      if (known.data.id > state.readSent && known.data.author !== cfg.me) {
        n += 1;
      }
    });
    return n;
  }

  /** "(3) #general · Chat": my unread messages in the other rooms, and here while away. */
  function refreshTitle() {
    if (!conn.everReady) {
      return; // the server's count, in the title as rendered, stands until then
    }
    var elsewhere = state.unreadElsewhere ? state.unreadElsewhere.total(cfg.slug) : state.unreadRest;
    C.setUnreadTotal(elsewhere + unreadHere());
  }

  /** A direct message or a mention of me in another room. */
  function onNotify(frame) {
    if (!C.validNotify(frame) || frame.room === cfg.slug) {
      return;
    }
    if (frame.message.author !== cfg.me) {
      if (state.unreadElsewhere) {
        state.unreadElsewhere.add(frame.room, 1);
      } else {
        state.unreadRest += 1;
      }
      refreshTitle();
    }
    C.announce(frame);
  }

  /** My read mark moved (in this tab or another) in some room. */
  function onUnread(frame) {
    if (typeof frame.room !== "string" || typeof frame.unread !== "number") {
      return;
    }
    if (frame.room === cfg.slug) {
      if (frame.unread === 0) {
        // Read to the end in another tab: what this page holds is read.
        var newest = newestId();
        if (newest !== null && newest > state.readSent) {
          state.readSent = newest;
        }
      }
    } else if (state.unreadElsewhere) {
      state.unreadElsewhere.set(frame.room, frame.unread);
    }
    refreshTitle();
  }

  // ---------------------------------------------------------------- "Seen" in direct rooms

  /** The other person read up to `id` (a direct room only). */
  function onRead(frame) {
    if (cfg.roomKind !== "direct" || !frame.user || frame.user === cfg.me || typeof frame.id !== "number") {
      return;
    }
    if (state.otherRead === null || frame.id > state.otherRead) {
      state.otherRead = frame.id;
      changeLog(function () {
        updateSeen();
        return false;
      }, false);
    }
  }

  /** "Seen" under my latest message the other person has read, and nowhere else. */
  function updateSeen() {
    if (cfg.roomKind !== "direct") {
      return;
    }
    var target = null;
    if (state.otherRead !== null) {
      for (var li = ui.list.lastElementChild; li; li = li.previousElementSibling) {
        if (li.dataset.author === cfg.me && Number(li.dataset.id) <= state.otherRead) {
          target = li;
          break;
        }
      }
    }
    var current = state.seenEl && state.seenEl.isConnected ? state.seenEl.closest(".msg") : null;
    if (current === target) {
      return;
    }
    if (state.seenEl) {
      state.seenEl.remove();
      state.seenEl = null;
    }
    if (target) {
      var seen = el("p", "msg-seen", "Seen");
      seen.title = "Seen by " + cfg.title;
      target.querySelector(".msg-row").appendChild(seen);
      state.seenEl = seen;
    }
  }

  // ---------------------------------------------------------------- start

  updateLogStart();
  renderRoomPolicy();
  conn.connect();
})();
