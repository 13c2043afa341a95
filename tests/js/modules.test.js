/*
 * The client's modules as production serves them: collectstatic (chatsite/storage.py) writes
 * hashed names into `import` statements with Django's patterns. Every import must be one those
 * patterns find (relative, ending in ";"), and whatever they find must be a file that exists,
 * or collectstatic fails. This runs those patterns (ported from django/contrib/staticfiles/
 * storage.py) over every module.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../chat/static/chat");

/** Django's JS module patterns, in the order it applies them. */
const DJANGO = [
  /import([\s{][\s\S]*?|\*\s*as\s*\w+)\s*from\s*['"]([./].*?)["']\s*;/g,
  /export([\s{][\s\S]*?)\s*from\s*["']([./].*?)["']\s*;/g,
  /import\s*['"]([./].*?)["']\s*;/g,
  /import\(["'](.*?)["']\)/g,
];

function modules(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? modules(path) : name.endsWith(".js") ? [path] : [];
  });
}

/** What Django would rewrite, as it would: each pattern on the text the previous one left. */
function djangoUrls(source) {
  const found = [];
  let text = source;
  for (const pattern of DJANGO) {
    text = text.replace(pattern, (...match) => {
      const url = match[match.length - 3]; // the last group (before offset and string)
      found.push(url);
      return match[0].replace(url, "\u0000");
    });
  }
  return found;
}

/** The module's real static imports and re-exports. */
function realImports(source) {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm), ...code.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map(
    (m) => m[1]
  );
}

test("every import of every module is rewritten to its hashed name, and nothing else is", () => {
  const problems = [];
  for (const file of modules(ROOT)) {
    const name = relative(ROOT, file);
    const source = readFileSync(file, "utf8");
    const urls = djangoUrls(source);
    for (const url of urls) {
      if (!url.startsWith(".") || !existsSync(resolve(dirname(file), url))) {
        problems.push(`${name}: collectstatic would look for ${url}`);
      }
    }
    for (const specifier of realImports(source)) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
        problems.push(`${name}: ${specifier} is not relative`);
      } else if (!urls.includes(specifier)) {
        problems.push(`${name}: the import of ${specifier} would keep its unhashed name`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
