/*
 * DOM helpers every view uses. User text only ever reaches the page through textContent
 * (el's `text`), never as markup; the one exception is a message's `html`, which the server
 * renders and sanitises (message.js).
 */

/**
 * @param {string} tag
 * @param {string|null} [className]
 * @param {string|null} [text] set as textContent
 * @returns {HTMLElement}
 */
export function el(tag, className = null, text = null) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== null && text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A <button type="button">. */
export function button(className, text, label = null) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) {
    node.setAttribute("aria-label", label);
  }
  return node;
}

/** @param {string} id */
export function byId(id) {
  return document.getElementById(id);
}

/** Remove every child. */
export function clear(node) {
  node.replaceChildren();
}

/** One of eight avatar colours, the same for a name everywhere. */
export function colorClass(name) {
  let h = 0;
  for (const char of String(name)) {
    h = (h * 31 + char.codePointAt(0)) >>> 0;
  }
  return `avatar-c${h % 8}`;
}

/** A round avatar with the name's first letter. */
export function avatar(name, extra = "") {
  const first = Array.from(name || "?")[0] || "?";
  const node = el("span", `avatar ${colorClass(name || "")}${extra ? ` ${extra}` : ""}`, first.toUpperCase());
  node.setAttribute("aria-hidden", "true");
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** Outline icons (stroked paths on a 20×20 grid; `fill` ones on 16×16). */
const ICONS = {
  lock: { box: 16, fill: true, d: "M8 1a3.5 3.5 0 0 0-3.5 3.5V6H4a1.5 1.5 0 0 0-1.5 1.5v6A1.5 1.5 0 0 0 4 15h8a1.5 1.5 0 0 0 1.5-1.5v-6A1.5 1.5 0 0 0 12 6h-.5V4.5A3.5 3.5 0 0 0 8 1Zm2 5H6V4.5a2 2 0 1 1 4 0V6Z" },
  gear: { box: 20, d: "M10 7.4a2.6 2.6 0 1 0 0 5.2 2.6 2.6 0 0 0 0-5.2ZM10 2.5v2M10 15.5v2M2.5 10h2M15.5 10h2M4.7 4.7l1.4 1.4M13.9 13.9l1.4 1.4M4.7 15.3l1.4-1.4M13.9 6.1l1.4-1.4" },
  reply: { box: 20, d: "M8 5 3.5 9.5 8 14M4 9.5h7.5a5 5 0 0 1 5 5V16" },
  smile: { box: 20, d: "M10 3a7 7 0 1 0 0 14 7 7 0 0 0 0-14ZM7 11.5a3.5 3.5 0 0 0 6 0M7.5 8h.01M12.5 8h.01" },
  edit: { box: 20, d: "m12.5 4.5 3 3L7 16H4v-3l8.5-8.5Z" },
  trash: { box: 20, d: "M4 6h12M8 6V4h4v2M5.5 6l.8 10h7.4l.8-10" },
  flag: { box: 20, d: "M5 17V3.5M5 4h9l-2 3.5 2 3.5H5" },
  clock: { box: 16, d: "M8 3.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11ZM8 6v3l2 1.5M6.5 1.5h3" },
  megaphone: { box: 16, d: "M2.5 6.5v3h2l5 3v-9l-5 3h-2ZM12 6a2.5 2.5 0 0 1 0 4" },
  plus: { box: 20, d: "M10 4v12M4 10h12" },
  search: { box: 20, d: "M8.5 3a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11ZM13 13l4 4" },
  close: { box: 20, d: "m5 5 10 10M15 5 5 15" },
  down: { box: 20, d: "M10 4v12M5 11l5 5 5-5" },
  people: { box: 20, d: "M7.5 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM2.5 17a5 5 0 0 1 10 0M13 3.3a3 3 0 0 1 0 5.4M15 12.5a5 5 0 0 1 2.5 4.5" },
  home: { box: 20, d: "M3 9.5 10 3.5l7 6M5 8v8.5h10V8" },
  compass: { box: 20, d: "M10 3a7 7 0 1 0 0 14 7 7 0 0 0 0-14ZM12.8 7.2l-1.6 4-4 1.6 1.6-4 4-1.6Z" },
  clip: { box: 20, d: "m15.5 9.5-5.8 5.8a3.5 3.5 0 0 1-5-5l6.4-6.4a2.3 2.3 0 0 1 3.3 3.3l-6.2 6.2a1.2 1.2 0 0 1-1.7-1.7l5.6-5.6" },
  file: { box: 20, d: "M11.5 2.5H6A1.5 1.5 0 0 0 4.5 4v12A1.5 1.5 0 0 0 6 17.5h8a1.5 1.5 0 0 0 1.5-1.5V6.5l-4-4ZM11.5 2.5v4h4" },
  download: { box: 20, d: "M10 3.5v9M6 9l4 4 4-4M4 16.5h12" },
  retry: { box: 20, d: "M15.5 10a5.5 5.5 0 1 1-1.6-3.9M16 3.5v3.5h-3.5" },
};

/**
 * An inline SVG icon, hidden from assistive technology (the control it sits in has a label).
 * @param {keyof typeof ICONS} name
 * @param {number} [size]
 */
export function icon(name, size = 16) {
  const spec = ICONS[name];
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `icon icon-${name}${spec.fill ? " icon-filled" : ""}`);
  svg.setAttribute("viewBox", `0 0 ${spec.box} ${spec.box}`);
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", spec.d);
  svg.append(path);
  return svg;
}

/** The CSRF token the page renders once ({% csrf_token %}), for forms the views build. */
export function csrfInput() {
  const source = document.querySelector("input[name=csrfmiddlewaretoken]");
  const input = el("input");
  input.type = "hidden";
  input.name = "csrfmiddlewaretoken";
  input.value = source ? source.value : "";
  return input;
}

/** A <form method="post"> to `action`, with the CSRF token. */
export function postForm(action, className) {
  const form = el("form", className);
  form.method = "post";
  form.action = action;
  form.append(csrfInput());
  return form;
}

/** A hidden input. */
export function hidden(name, value) {
  const input = el("input");
  input.type = "hidden";
  input.name = name;
  input.value = value;
  return input;
}

/** Whether a click should be left to the browser (a new tab, a download...). */
export function isModifiedClick(event) {
  return event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
}

/**
 * A combobox's highlighted option (ARIA's active descendant): marked, scrolled into view and
 * named on the input; -1 for none.
 * @param {HTMLInputElement} input
 * @param {ArrayLike<Element>} options
 * @param {number} index
 */
export function markActiveOption(input, options, index) {
  Array.from(options).forEach((option, i) => {
    const on = i === index;
    option.classList.toggle("is-active", on);
    option.setAttribute("aria-selected", on ? "true" : "false");
    if (on) {
      option.scrollIntoView({ block: "nearest" });
    }
  });
  if (index >= 0 && options[index]) {
    input.setAttribute("aria-activedescendant", options[index].id);
  } else {
    input.removeAttribute("aria-activedescendant");
  }
}
