/*
 * Every timing and size the client uses, the core's and the views', in one place. Times are
 * in milliseconds, distances on screen in CSS pixels.
 */

/** Reconnect backoff: the first retry within 1 s, then doubling, never above 30 s. */
export const BACKOFF_BASE = 1000;
export const BACKOFF_CAP = 30000;

/** After a close for flooding (4429) the server wants a real pause: 30 to 60 s. */
export const FLOOD_DELAY_MIN = 30000;
export const FLOOD_DELAY_SPAN = 30000;

/**
 * How long a new socket may take to say `ready`. Generous: a server working through a
 * reconnect storm is slow, not dead, and giving up early only makes the storm worse; the
 * pings catch a dead connection.
 */
export const READY_TIMEOUT = 60000;

/** A ping every PING_EVERY; a connection silent for PONG_TIMEOUT after one is dead. */
export const PING_EVERY = 25000;
export const PONG_TIMEOUT = 10000;

/**
 * While connected, ask `history after=<latest id>` this often: live frames are at most once,
 * so a broadcast lost with a dying worker is found this way (docs/reliability.md).
 */
export const SYNC_EVERY = 50000;

/** A send neither answered nor shown after this long is sent again, with the same client_id. */
export const CONFIRM_WAIT = 5000;

/** Added to the server's `retry_after`, so that the retry does not land just before the limit lifts. */
export const RETRY_MARGIN = 100;

/** The server relays `typing` at most once per 2 s; it shows for a little longer than that. */
export const TYPING_EVERY = 2000;
export const TYPING_SHOWN = 3000;

/** Messages per `history` request: a page scrolled back or jumped to, and a catch-up page. */
export const PAGE = 50;
export const CATCH_UP_PAGE = 100;

/** Close codes the server uses to say why a socket ended (contract, protocol v2 plan). */
export const CLOSE = Object.freeze({
  RECONNECT: 4000, // my rights changed: reconnect at once
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  FLOOD: 4429,
  UNAVAILABLE: 4503,
});

/** The code this client closes its own sockets with. */
export const CLIENT_CLOSE = 1000;

/** The server's limits (contract): a message body, a report's reason. */
export const MAX_BODY = 4000;
export const MAX_REASON = 500;

/** A read mark goes out this long after the newest message came into view, not at every one. */
export const READ_DELAY = 300;

/** Messages of one author this close together show the name once. */
export const GROUP_WITHIN = 5 * 60 * 1000;

/** Toasts: how long one stays, how many show at once. */
export const TOAST_MS = 6000;
export const TOASTS_SHOWN = 3;

/** Typing a name: the search waits for a pause this long. */
export const SEARCH_DELAY = 200;

/** Typing in the message search: it asks the server after a pause this long. */
export const MESSAGE_SEARCH_DELAY = 250;

/** A touch held this long shows who reacted. */
export const LONG_PRESS = 500;

/** The emoji picker keeps this many recently used ones. */
export const RECENT_EMOJI = 8;

/** A message jumped to stays highlighted this long. */
export const FOCUS_SHOWN = 3000;

/** Older messages load when the log is scrolled this close to its top (newer ones: bottom). */
export const NEAR_EDGE = 200;

/** Closer than this to the bottom counts as "at the bottom": new messages keep it there. */
export const AT_BOTTOM = 48;

/** A reply's quote in the composer, and a report's: at most this many characters. */
export const EXCERPT = 120;

/**
 * Files (contract "Files"): the largest one the server takes unless the page says otherwise
 * (its `data-upload-max`), and how many one message may carry.
 */
export const UPLOAD_MAX = 10 * 1024 * 1024;
export const FILES_PER_MESSAGE = 10;

/** Uploads one room socket runs at once (the server allows three in progress). */
export const UPLOADS_AT_ONCE = 2;

/**
 * An upload's chunks go out while the socket's `bufferedAmount` is under UPLOAD_BUFFERED and
 * at most UPLOAD_WINDOW bytes wait for the server's `upload.progress`; past either it waits
 * (polling the buffer every UPLOAD_POLL), so a cancel or a text frame never queues behind
 * megabytes, and the progress bar follows what the server really holds.
 */
export const UPLOAD_BUFFERED = 256 * 1024;
export const UPLOAD_WINDOW = 1024 * 1024;
export const UPLOAD_POLL = 30;

/** An image in a message shows at most this large (its thumbnail is at most 480 px). */
export const IMAGE_SHOWN_WIDTH = 360;
export const IMAGE_SHOWN_HEIGHT = 270;
