/*
 * Every word the client shows, in one place. Views never hold a string a user reads; they ask
 * t(key, values). The words are translated by Django's JavaScript catalog (/jsi18n/<lang>/...,
 * loaded by base.html before any module: globalThis.django.gettext, ngettext), in
 * chat/locale/<lang>/LC_MESSAGES/djangojs.po.
 *
 * Each entry is written so that the extractors (`manage.py makemessages -d djangojs`, which runs
 * xgettext, and `manage.py checkmessages`, which runs Babel) find it: gettext_noop("...") for a
 * sentence, ngettext_lazy("... one", "... other") for one whose words follow a count (t() picks
 * the form by `values.count`, as the page's language counts). Both only mark the text; t()
 * translates it when it is shown. A value in %(name)s is filled in from `values`.
 *
 * Keep the messages plain "..." literals, and this file free of regular expression and template
 * literals: xgettext's JavaScript parser loses its way on those and silently skips what follows.
 */

/** Marks a message for translation; t() translates it. */
function gettext_noop(message) {
  return message;
}

/** Marks a message whose words follow a count (English: one, other); t() translates it. */
function ngettext_lazy(singular, plural) {
  return { singular, plural };
}

const MESSAGES = {
  site_name: gettext_noop("Chat"),
  // durations
  seconds_short: gettext_noop("%(n)s s"),
  minutes_short: gettext_noop("%(n)s min"),
  hours_short: gettext_noop("%(n)s h"),

  // connection
  status_connecting: gettext_noop("Connecting…"),
  status_reconnecting: gettext_noop("Reconnecting…"),
  status_connected: gettext_noop("Connected"),
  status_reconnecting_in: gettext_noop("Reconnecting in %(seconds)s s"),
  status_retry_now: gettext_noop("Retry now"),
  status_offline: gettext_noop("Offline"),
  status_session_ended: gettext_noop("Session ended"),
  status_removed: gettext_noop("Removed"),
  status_no_access: gettext_noop("No access"),
  status_no_room: gettext_noop("No such room"),
  notice_reconnecting_in: gettext_noop("reconnecting in %(seconds)s s."),
  notice_reconnecting: gettext_noop("reconnecting…"),
  notice_flood: gettext_noop("Disconnected for sending too much; %(when)s"),
  notice_unavailable: gettext_noop("The chat server is unavailable right now; %(when)s"),
  // "Your session has ended. [Log in again] to keep chatting."
  notice_session_ended: gettext_noop("Your session has ended. "),
  notice_log_in_again: gettext_noop("Log in again"),
  notice_keep_chatting: gettext_noop(" to keep chatting."),
  notice_removed: gettext_noop("You were removed from this room. "),
  notice_no_access: gettext_noop(
    "You do not have access to this room: it is for its members only, or you were banned from it. "
  ),
  notice_no_room: gettext_noop("This room does not exist (any more). "),
  notice_back_home: gettext_noop("Back to the lobby"),

  // the room's header
  topic_direct: gettext_noop("Direct messages between you and %(name)s"),
  topic_public: gettext_noop("Public room"),
  topic_private: gettext_noop("Private room"),
  room_settings: gettext_noop("Room settings"),
  log_label: gettext_noop("Messages in %(room)s"),
  log_label_direct: gettext_noop("Messages with %(name)s"),

  // the log
  log_loading: gettext_noop("Loading messages…"),
  log_loading_older: gettext_noop("Loading older messages…"),
  log_loading_newer: gettext_noop("Loading newer messages…"),
  log_scroll_up: gettext_noop("Scroll up for older messages"),
  log_scroll_down: gettext_noop("Scroll down for newer messages"),
  log_welcome: gettext_noop("Welcome to %(room)s"),
  log_start: gettext_noop("This is the beginning of the conversation."),
  log_empty: gettext_noop("No messages yet. Say hello!"),
  log_start_direct: gettext_noop("This is the beginning of your direct messages with %(name)s."),
  log_empty_direct: gettext_noop("No messages yet. Say hello to %(name)s!"),
  log_new_messages: gettext_noop("New messages"),
  log_jump_latest: gettext_noop("Jump to latest"),
  log_unseen: ngettext_lazy("%(count)s new message", "%(count)s new messages"),
  log_seen: gettext_noop("Seen"),

  // a message
  msg_edited: gettext_noop("(edited)"),
  msg_bot: gettext_noop("bot"),
  msg_edited_at: gettext_noop("Edited %(time)s"),
  action_react: gettext_noop("Add a reaction"),
  action_reply: gettext_noop("Reply to this message"),
  action_edit: gettext_noop("Edit this message"),
  action_report: gettext_noop("Report this message to the moderators"),
  action_delete: gettext_noop("Delete this message"),
  confirm_delete: gettext_noop("Delete this message? This cannot be undone."),
  delete_failed: gettext_noop("Could not delete the message: %(reason)s"),
  reply_show_original: gettext_noop("Reply to %(author)s: “%(excerpt)s”. Show the original"),
  reply_original_gone: gettext_noop("The original message was deleted."),
  reply_original_missing: gettext_noop("The original message is not there any more."),
  reaction_label: ngettext_lazy(
    "%(emoji)s %(count)s reaction, by %(names)s",
    "%(emoji)s %(count)s reactions, by %(names)s"
  ),
  react_failed: gettext_noop("Could not react: %(reason)s"),
  picker_label: gettext_noop("Add a reaction"),
  picker_choice: gettext_noop("React with %(emoji)s"),
  edit_label: gettext_noop("Edit your message"),
  edit_save: gettext_noop("Save"),
  edit_cancel: gettext_noop("Cancel"),
  edit_hint: gettext_noop("Enter to save · Esc to cancel"),
  edit_empty: gettext_noop("A message cannot be empty; use Delete to remove it."),
  edit_failed: gettext_noop("Could not edit the message: %(reason)s"),

  // my messages on their way
  pending_sending: gettext_noop("Sending…"),
  pending_waiting: gettext_noop("Waiting for the connection…"),
  pending_slow_mode: gettext_noop("Slow mode: wait %(seconds)s s"),
  pending_too_fast: gettext_noop("Sending too fast; retrying in %(seconds)s s"),
  pending_failed: gettext_noop("Not sent: %(reason)s"),
  pending_not_sent: gettext_noop("Not sent"),
  pending_retry: gettext_noop("Retry"),
  pending_discard: gettext_noop("Discard"),

  // the composer
  composer_placeholder: gettext_noop("Message %(name)s"),
  composer_locked: gettext_noop("Announcements: only moderators post in this room"),
  composer_too_long: gettext_noop("A message may be at most %(max)s characters."),
  typing_one: gettext_noop("%(name)s is typing…"),
  typing_two: gettext_noop("%(first)s and %(second)s are typing…"),
  typing_many: gettext_noop("Several people are typing…"),
  flag_slow_mode: gettext_noop("Slow mode: %(every)s"),
  flag_slow_mode_member: gettext_noop("You may send one message every %(every)s."),
  flag_slow_mode_moderator: gettext_noop(
    "Members may send one message every %(every)s. Moderators (you) are exempt."
  ),
  flag_posting_member: gettext_noop("An announcements room: only moderators post here."),
  flag_posting_moderator: gettext_noop(
    "An announcements room: you may post, as a moderator; members only read."
  ),
  toast_slow_mode_on: gettext_noop("Slow mode is on: one message every %(every)s."),
  toast_slow_mode_on_moderator: gettext_noop(
    "Slow mode is on: one message every %(every)s (moderators are exempt)."
  ),
  toast_slow_mode_off: gettext_noop("Slow mode is off."),
  toast_announcements_on: gettext_noop("This is now an announcements room: only moderators post."),
  toast_announcements_off: gettext_noop("Everyone may post in this room again."),

  // files: attaching, uploading, showing
  attach_files: gettext_noop("Attach files"),
  attach_files_limit: gettext_noop("Attach files (up to %(count)s, at most %(max)s each)"),
  attach_tray: gettext_noop("Files to send"),
  attach_drop: gettext_noop("Drop files to attach them"),
  attach_too_large: gettext_noop("%(name)s is %(size)s: a file may be at most %(max)s."),
  attach_empty: gettext_noop("%(name)s is empty."),
  attach_too_many: gettext_noop("A message may carry at most %(max)s files."),
  attach_wait: gettext_noop("Wait for the files to finish uploading (or remove them) before sending."),
  upload_queued: gettext_noop("%(size)s · waiting…"),
  upload_progress: gettext_noop("%(done)s of %(size)s"),
  upload_processing: gettext_noop("Processing…"),
  upload_ready: gettext_noop("Ready"),
  upload_waiting: gettext_noop("Too many uploads; retrying in %(seconds)s s"),
  upload_failed: gettext_noop("Not uploaded: %(reason)s"),
  upload_cancel: gettext_noop("Cancel the upload of %(name)s"),
  upload_remove: gettext_noop("Remove %(name)s"),
  upload_retry: gettext_noop("Retry"),
  upload_error_too_long: gettext_noop("the file is too large"),
  upload_error_unreadable: gettext_noop("the file could not be read"),
  upload_error_invalid: gettext_noop("the server refused the file"),
  file_download: gettext_noop("Download %(name)s"),
  image_open: gettext_noop("Open %(name)s full size"),
  viewer_close: gettext_noop("Close"),
  viewer_download: gettext_noop("Download"),
  size_bytes: gettext_noop("%(n)s B"),
  size_kb: gettext_noop("%(n)s KB"),
  size_mb: gettext_noop("%(n)s MB"),

  // reporting
  report_author: gettext_noop("%(name)s:"),
  report_count: gettext_noop("%(n)s / %(max)s"),
  report_too_long: gettext_noop("A reason may be at most %(max)s characters."),
  report_done: gettext_noop("Reported. Thanks: a moderator will look at it."),
  report_failed: gettext_noop("Could not report the message: %(reason)s"),

  // members
  members_loading: gettext_noop("Loading…"),
  members_you: gettext_noop("(you)"),
  members_online: gettext_noop("online"),
  members_offline: gettext_noop("offline"),
  members_message: gettext_noop("Message"),
  members_message_label: gettext_noop("Send %(name)s a direct message"),
  members_count: ngettext_lazy("%(online)s online · %(count)s member", "%(online)s online · %(count)s members"),
  side_add_member: gettext_noop("Add a member"),
  side_add: gettext_noop("Add"),
  side_role_owner: gettext_noop("You are the owner of this room."),
  side_role_moderator: gettext_noop("You are a moderator of this room."),
  side_role_member: gettext_noop("You are a member of this room."),
  side_leave: gettext_noop("Leave room"),
  side_leave_confirm: gettext_noop("Leave %(room)s?"),
  side_leave_confirm_private: gettext_noop("Leave %(room)s? You will need a moderator to add you again."),
  side_direct_private: gettext_noop("Only you and %(name)s can see this conversation."),
  side_block: gettext_noop("Block %(name)s"),
  side_block_confirm: gettext_noop(
    "Block %(name)s? Neither of you will be able to send the other direct messages until you unblock them. They will not be told who blocked whom."
  ),

  // the sidebar and finding people
  sidebar_unread: gettext_noop(" unread"),
  sidebar_unread_mention: gettext_noop(" unread, for you"),
  search_message: gettext_noop("Message"),
  // "Nobody whose name starts with “[query]”."
  search_nobody_before: gettext_noop("Nobody whose name starts with “"),
  search_nobody_after: gettext_noop("”."),

  // searching messages (the header's field)
  search_key: gettext_noop("Ctrl K"),
  search_key_mac: gettext_noop("⌘K"),
  search_searching: gettext_noop("Searching…"),
  search_found: ngettext_lazy("%(count)s message found", "%(count)s messages found"),
  search_found_more: gettext_noop("More than %(count)s messages found"),
  search_none: gettext_noop("No messages found for “%(query)s”."),
  search_none_here: gettext_noop("No messages in this room for “%(query)s”."),
  search_load_more: gettext_noop("Load more"),
  search_loading_more: gettext_noop("Loading…"),
  search_rate_limited: gettext_noop("Too many searches: wait %(seconds)s s, then try again."),
  search_rate_limited_moment: gettext_noop("Too many searches: wait a moment, then try again."),
  search_no_answer: gettext_noop("Could not search: the server did not answer. Try again."),
  search_failed: gettext_noop("Could not search: %(reason)s"),
  search_gone: gettext_noop("That message is not there any more."),

  // notifications
  toast_open: gettext_noop("Open"),
  copied: gettext_noop("Copied."),
  notify_direct: gettext_noop("New message from %(author)s"),
  notify_mention: gettext_noop("%(author)s mentioned you in %(room)s"),
  bell_off: gettext_noop("Enable desktop notifications"),
  bell_on: gettext_noop("Desktop notifications are on (click to turn off)"),
  bell_turned_on: gettext_noop("Desktop notifications are on."),
  bell_turned_off: gettext_noop("Desktop notifications are off."),
  bell_blocked: gettext_noop("Notifications are blocked for this site in your browser's settings."),

  // what the server refused, by the code of its error frame or response (its own words are
  // English: the client shows these instead), for "Could not …: %(reason)s"
  error_disconnected: gettext_noop("not connected; try again in a moment."),
  error_network: gettext_noop("the server did not answer; try again."),
  error_invalid: gettext_noop("the server did not accept the request."),
  error_unknown_type: gettext_noop("the server did not understand the request."),
  error_rate_limited: gettext_noop("too fast; wait a moment."),
  error_forbidden: gettext_noop("you may not do that here."),
  error_muted: gettext_noop("you are muted in this room."),
  error_muted_until: gettext_noop("you are muted in this room until %(time)s."),
  error_not_found: gettext_noop("the message is gone."),
  error_too_long: gettext_noop("too long."),
  error_unauthenticated: gettext_noop("your session has ended; log in again."),
  error_unavailable: gettext_noop("the chat server is unavailable right now; try again in a moment."),
};

// (no regular expression literals in this file: see the top)
const PLACEHOLDER = new RegExp("%\\((\\w+)\\)s", "g");
const ISO_TIME = new RegExp("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:\\d{2})");

/** The page's language as a BCP 47 tag ("en", "zh-Hans"), as the server rendered <html lang>. */
export function pageLanguage() {
  return globalThis.document?.documentElement?.lang || "en";
}

/** Django's catalog, when the page loaded one (tests without one speak English). */
function catalog() {
  return globalThis.django;
}

let englishPlurals = null;

/**
 * `format` with its %(name)s placeholders filled from `values`, as the catalog's
 * interpolate(format, values, true) fills them, except that a value not given stays visible
 * (a bug shows as "%(name)s", not "undefined").
 */
function fill(format, values) {
  return format.replace(PLACEHOLDER, (match, name) => (name in values ? String(values[name]) : match));
}

/**
 * The text of `key` in the page's language, its %(placeholders)s filled from `values`; an
 * entry with a singular and a plural is chosen by `values.count`.
 * @param {string} key
 * @param {Record<string, string|number>} [values]
 */
export function t(key, values = {}) {
  const entry = MESSAGES[key];
  if (entry === undefined) {
    return key;
  }
  const django = catalog();
  let format;
  if (typeof entry === "object") {
    const count = Number(values.count);
    if (django?.ngettext) {
      format = django.ngettext(entry.singular, entry.plural, count);
    } else {
      englishPlurals ??= new Intl.PluralRules("en");
      format = englishPlurals.select(count) === "one" ? entry.singular : entry.plural;
    }
  } else {
    format = django?.gettext ? django.gettext(entry) : entry;
  }
  return fill(format, values);
}

/** Whether the catalog has `key` (tests check that every key a view asks for exists). */
export function has(key) {
  return key in MESSAGES;
}

/** The English message behind `key` (for tests and the extractors' checks). */
export function message(key) {
  return MESSAGES[key];
}

/** Every key (tests). */
export function keys() {
  return Object.keys(MESSAGES);
}

/** "30 s", "5 min", "2 h" ("30 秒", "5 分钟", "2 小时"): a slow mode's interval. */
export function duration(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) {
    return t("hours_short", { n: seconds / 3600 });
  }
  if (seconds >= 60 && seconds % 60 === 0) {
    return t("minutes_short", { n: seconds / 60 });
  }
  return t("seconds_short", { n: seconds });
}

const lists = new Map();

/** "alice, bob, and carol" ("alice、bob和carol"): names in a list, as the page's language lists. */
export function nameList(names) {
  const language = pageLanguage();
  if (!lists.has(language)) {
    lists.set(language, new Intl.ListFormat(language, { type: "conjunction" }));
  }
  return lists.get(language).format(names.map(String));
}

/** The language and time zone that dates are written in (core/time.js). */
export function formatOptions() {
  return {
    locale: pageLanguage(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}

/**
 * Why a request failed, for "Could not …: %(reason)s", in the page's language: our words for
 * the error's code (error frames and responses keep their codes; the server's own words are
 * English), else the server's words. A mute's end is kept, in the reader's language and zone.
 * @param {{code?: string, message?: string}} error a RequestError, an error frame
 */
export function errorText(error) {
  const key = "error_" + error?.code;
  if (key === "error_muted") {
    const until = ISO_TIME.exec(error?.message || "");
    const date = until ? new Date(until[0]) : null;
    if (date && !Number.isNaN(date.getTime())) {
      const options = formatOptions();
      const time = new Intl.DateTimeFormat(options.locale, {
        dateStyle: "medium",
        timeStyle: "short",
        timeZone: options.timeZone,
      }).format(date);
      return t("error_muted_until", { time });
    }
  }
  if (has(key)) {
    return t(key);
  }
  return error?.message || error?.code || "";
}

/**
 * "512 B", "14 KB", "2.4 MB": a file's size (powers of 1024, as the limit is counted).
 * @param {number} bytes
 */
export function fileSize(bytes) {
  const format = (n, digits) =>
    new Intl.NumberFormat(pageLanguage(), { maximumFractionDigits: digits }).format(n);
  if (bytes < 1024) {
    return t("size_bytes", { n: format(bytes, 0) });
  }
  if (bytes < 1024 * 1024) {
    return t("size_kb", { n: format(bytes / 1024, bytes < 10 * 1024 ? 1 : 0) });
  }
  return t("size_mb", { n: format(bytes / (1024 * 1024), 1) });
}

/**
 * Why an upload failed, for "Not uploaded: %(reason)s": our words for its code, else the
 * general ones (muted, rate limited...), else the server's.
 * @param {{code?: string, message?: string}} error
 */
export function uploadErrorText(error) {
  const key = "upload_error_" + error?.code;
  return has(key) ? t(key) : errorText(error);
}
