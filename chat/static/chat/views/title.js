/*
 * The tab's title: "(3) #general · Chat", the count being my unread messages. The page
 * renders it first (with the server's count); from then on the views set it.
 */
import { t } from "./strings.js";

const COUNT = /^\(\d+\+?\)\s*/;

/** The title as rendered, less the count and the site's name: "#general". */
function renderedBase() {
  const site = ` · ${t("site_name")}`;
  const title = document.title.replace(COUNT, "");
  return title.endsWith(site) ? title.slice(0, -site.length) : title;
}

let base = null;
let count = 0;

function render() {
  const prefix = count > 0 ? `(${count > 999 ? "999+" : count}) ` : "";
  const title = `${prefix}${base} · ${t("site_name")}`;
  if (document.title !== title) {
    document.title = title;
  }
}

/** @param {number} n my unread messages */
export function setUnread(n) {
  base ??= renderedBase();
  count = Math.max(0, Math.floor(Number(n) || 0));
  render();
}

/** @param {string} name what the page shows now (a room switched in place) */
export function setPageName(name) {
  base = name;
  render();
}
