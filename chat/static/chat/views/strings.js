/*
 * Every word the client shows, in one place, so that a later change can translate them
 * (Django's JavaScript catalog: gettext, ngettext, interpolate). Views never hold a string
 * a user reads; they ask t(key, values). A value in braces ("{name}") is filled in; an entry
 * with `one` and `other` is chosen by `count`, as the page's language counts.
 */
import { english } from "../core/time.js";

const EN = {
  site_name: "Chat",
  // the time words of core/time.js
  today: "Today",
  yesterday: "Yesterday",
  now: "now",
  minutes: "{n} min",
  // durations
  seconds_short: "{n} s",
  minutes_short: "{n} min",
  hours_short: "{n} h",

  // connection
  status_connecting: "Connecting…",
  status_reconnecting: "Reconnecting…",
  status_connected: "Connected",
  status_reconnecting_in: "Reconnecting in {seconds} s",
  status_retry_now: "Retry now",
  status_offline: "Offline",
  status_session_ended: "Session ended",
  status_removed: "Removed",
  status_no_access: "No access",
  status_no_room: "No such room",
  notice_reconnecting_in: "reconnecting in {seconds} s.",
  notice_reconnecting: "reconnecting…",
  notice_flood: "Disconnected for flooding; {when}",
  notice_unavailable: "The chat server is unavailable right now; {when}",
  notice_session_ended: "Your session has ended. ",
  notice_log_in_again: "Log in again",
  notice_keep_chatting: " to keep chatting.",
  notice_removed: "You were removed from this room. ",
  notice_no_access: "You do not have access to this room: it is for its members only, or you were banned from it. ",
  notice_no_room: "This room does not exist (any more). ",
  notice_back_home: "Back to the lobby",

  // the room's header
  topic_direct: "Direct messages between you and {name}",
  topic_public: "Public room",
  topic_private: "Private room",
  room_settings: "Room settings",
  log_label: "Messages in {room}",
  log_label_direct: "Messages with {name}",

  // the log
  log_loading: "Loading messages…",
  log_loading_older: "Loading older messages…",
  log_loading_newer: "Loading newer messages…",
  log_scroll_up: "Scroll up for older messages",
  log_scroll_down: "Scroll down for newer messages",
  log_welcome: "Welcome to {room}",
  log_start: "This is the beginning of the conversation.",
  log_empty: "No messages yet. Say hello!",
  log_start_direct: "This is the beginning of your direct messages with {name}.",
  log_empty_direct: "No messages yet. Say hello to {name}!",
  log_new_messages: "New messages",
  log_jump_latest: "Jump to latest",
  log_unseen: { one: "{count} new message", other: "{count} new messages" },
  log_seen: "Seen",

  // a message
  msg_edited: "(edited)",
  msg_bot: "bot",
  msg_edited_at: "Edited {time}",
  action_react: "Add a reaction",
  action_reply: "Reply to this message",
  action_edit: "Edit this message",
  action_report: "Report this message to the moderators",
  action_delete: "Delete this message",
  confirm_delete: "Delete this message? This cannot be undone.",
  delete_failed: "Could not delete the message: {reason}",
  reply_show_original: "Reply to {author}: “{excerpt}”. Show the original",
  reply_original_gone: "The original message was deleted.",
  reply_original_missing: "The original message is not there any more.",
  reaction_by: "{names}",
  reaction_label: { one: "{emoji} {count} reaction, by {names}", other: "{emoji} {count} reactions, by {names}" },
  react_failed: "Could not react: {reason}",
  picker_label: "Add a reaction",
  picker_choice: "React with {emoji}",
  edit_label: "Edit your message",
  edit_save: "Save",
  edit_cancel: "Cancel",
  edit_hint: "Enter to save · Esc to cancel",
  edit_empty: "A message cannot be empty; use Delete to remove it.",
  edit_failed: "Could not edit the message: {reason}",

  // my messages on their way
  pending_sending: "Sending…",
  pending_waiting: "Waiting for the connection…",
  pending_slow_mode: "Slow mode: wait {seconds} s",
  pending_too_fast: "Sending too fast; retrying in {seconds} s",
  pending_failed: "Not sent: {reason}",
  pending_not_sent: "Not sent",
  pending_retry: "Retry",
  pending_discard: "Discard",

  // the composer
  composer_placeholder: "Message {name}",
  composer_locked: "Announcements: only moderators post in this room",
  composer_too_long: "A message may be at most {max} characters.",
  typing_one: "{name} is typing…",
  typing_two: "{first} and {second} are typing…",
  typing_many: "Several people are typing…",
  flag_slow_mode: "Slow mode: {every}",
  flag_slow_mode_member: "You may send one message every {every}.",
  flag_slow_mode_moderator: "Members may send one message every {every}. Moderators (you) are exempt.",
  flag_posting_member: "An announcements room: only moderators post here.",
  flag_posting_moderator: "An announcements room: you may post, as a moderator; members only read.",
  toast_slow_mode_on: "Slow mode is on: one message every {every}.",
  toast_slow_mode_on_moderator: "Slow mode is on: one message every {every} (moderators are exempt).",
  toast_slow_mode_off: "Slow mode is off.",
  toast_announcements_on: "This is now an announcements room: only moderators post.",
  toast_announcements_off: "Everyone may post in this room again.",

  // files: attaching, uploading, showing
  attach_files: "Attach files",
  attach_files_limit: "Attach files (up to {count}, at most {max} each)",
  attach_tray: "Files to send",
  attach_drop: "Drop files to attach them",
  attach_too_large: "{name} is {size}: a file may be at most {max}.",
  attach_empty: "{name} is empty.",
  attach_too_many: "A message may carry at most {max} files.",
  attach_wait: "Wait for the files to finish uploading (or remove them) before sending.",
  upload_queued: "{size} · waiting…",
  upload_progress: "{done} of {size}",
  upload_processing: "Processing…",
  upload_ready: "Ready",
  upload_waiting: "Too many uploads; retrying in {seconds} s",
  upload_failed: "Not uploaded: {reason}",
  upload_cancel: "Cancel the upload of {name}",
  upload_remove: "Remove {name}",
  upload_retry: "Retry",
  upload_error_too_long: "the file is too large",
  upload_error_unreadable: "the file could not be read",
  upload_error_invalid: "the server refused the file",
  file_download: "Download {name}",
  image_open: "Open {name} full size",
  viewer_close: "Close",
  viewer_download: "Download",
  size_bytes: "{n} B",
  size_kb: "{n} KB",
  size_mb: "{n} MB",

  // reporting
  report_count: "{n} / {max}",
  report_too_long: "A reason may be at most {max} characters.",
  report_done: "Reported. Thanks: a moderator will look at it.",
  report_failed: "Could not report the message: {reason}",

  // members
  members_loading: "Loading…",
  members_you: "(you)",
  members_online: "online",
  members_offline: "offline",
  members_message: "Message",
  members_message_label: "Send {name} a direct message",
  members_count: "{online} online · {count}",
  side_add_member: "Add a member",
  side_add: "Add",
  side_role_owner: "You are the owner of this room.",
  side_role_moderator: "You are a moderator of this room.",
  side_role_member: "You are a member of this room.",
  side_leave: "Leave room",
  side_leave_confirm: "Leave {room}?",
  side_leave_confirm_private: "Leave {room}? You will need a moderator to add you again.",
  side_direct_private: "Only you and {name} can see this conversation.",
  side_block: "Block {name}",
  side_block_confirm:
    "Block {name}? Neither of you will be able to send the other direct messages until you unblock them. They will not be told who blocked whom.",

  // the sidebar and finding people
  sidebar_unread: " unread",
  sidebar_unread_mention: " unread, for you",
  search_message: "Message",
  search_nobody_before: "Nobody whose name starts with “",
  search_nobody_after: "”.",

  // searching messages (the header's field)
  search_key: "Ctrl K",
  search_key_mac: "⌘K",
  search_searching: "Searching…",
  search_found: { one: "{count} message found", other: "{count} messages found" },
  search_found_more: "More than {count} messages found",
  search_none: "No messages found for “{query}”.",
  search_none_here: "No messages in this room for “{query}”.",
  search_load_more: "Load more",
  search_loading_more: "Loading…",
  search_rate_limited: "Too many searches: wait {seconds} s, then try again.",
  search_rate_limited_moment: "Too many searches: wait a moment, then try again.",
  search_no_answer: "Could not search: the server did not answer. Try again.",
  search_failed: "Could not search: {reason}",
  search_gone: "That message is not there any more.",

  // notifications
  toast_open: "Open",
  copied: "Copied.",
  notify_direct: "New message from {author}",
  notify_mention: "{author} mentioned you in {room}",
  bell_off: "Enable desktop notifications",
  bell_on: "Desktop notifications are on (click to turn off)",
  bell_turned_on: "Desktop notifications are on.",
  bell_turned_off: "Desktop notifications are off.",
  bell_blocked: "Notifications are blocked for this site in your browser's settings.",

  // what the server refused, by its code (its own words are English)
  error_disconnected: "not connected; try again in a moment.",
  error_rate_limited: "too fast; wait a moment.",
  error_forbidden: "you may not do that here.",
  error_muted: "you are muted in this room.",
  error_not_found: "the message is gone.",
  error_too_long: "too long.",
};

const catalog = EN;

/** The page's language ("en", "zh-hans"), as the server rendered <html lang>. */
export function pageLanguage() {
  return globalThis.document?.documentElement?.lang || "en";
}

let plurals = null;

/**
 * The text of `key`, its {placeholders} filled from `values`.
 * @param {string} key
 * @param {Record<string, string|number>} [values]
 */
export function t(key, values = {}) {
  let entry = catalog[key];
  if (entry === undefined) {
    return key;
  }
  if (typeof entry === "object") {
    plurals ??= new Intl.PluralRules(pageLanguage());
    entry = entry[plurals.select(Number(values.count))] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** Whether the catalog has `key` (tests check that every key a view asks for exists). */
export function has(key) {
  return key in catalog;
}

/** "30 s", "5 min", "2 h": a slow mode's interval. */
export function duration(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) {
    return t("hours_short", { n: seconds / 3600 });
  }
  if (seconds >= 60 && seconds % 60 === 0) {
    return t("minutes_short", { n: seconds / 60 });
  }
  return t("seconds_short", { n: seconds });
}

/**
 * Why a request failed, for "Could not …: {reason}": by the error's code, else the server's
 * own words.
 * @param {{code?: string, message?: string}} error a RequestError
 */
export function errorText(error) {
  const key = `error_${error?.code}`;
  if (has(key)) {
    return t(key);
  }
  return error?.message || String(error);
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
 * Why an upload failed, for "Not uploaded: {reason}": our words for its code, else the
 * general ones (muted, rate limited...), else the server's.
 * @param {{code?: string, message?: string}} error
 */
export function uploadErrorText(error) {
  const key = `upload_error_${error?.code}`;
  return has(key) ? t(key) : errorText(error);
}

/** The language, time zone and words that dates are written with (core/time.js). */
export function formatOptions() {
  return {
    locale: pageLanguage(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    t: (key, values) => (has(key) ? t(key, values) : english(key, values)),
  };
}
