"""`manage.py checkmessages`: every string a person reads has a Chinese translation.

Run by `make test` (tests/test_translations.py) without GNU gettext: the sources are read the
way `makemessages` reads them (templates through Django's own `templatize`, Python and the
client's ES modules through Babel's extractors, with Django's keywords), then each message must
be in the committed `.po` with a translation that is not empty and not fuzzy, with the same
placeholders, and the committed `.mo` must say what the `.po` says. `make messages` rewrites
both for translators.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract as babel_extract
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation.template import templatize

KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
# What stays English by design (the terminal client, the bridge, benchmarks and tests), and
# what is not source at all.
SKIP_DIRS = {".venv", "node_modules", "staticfiles", "migrations", "tests", "bench", "media"}
LANGUAGE = "zh_Hans"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w+\}")

Key = tuple[str, str | None]  # (msgid, context)


def sources(root: Path, suffix: str) -> Iterator[Path]:
    for path in sorted(root.rglob(f"*{suffix}")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path


def _keyed(method: str, source: bytes) -> Iterator[tuple[Key, tuple[str, ...]]]:
    """Babel's findings as ((singular, context), (singular, plural...))."""
    for _line, messages, _comments, context in babel_extract(method, io.BytesIO(source), KEYWORDS):
        ids = messages if isinstance(messages, tuple) else (messages,)
        yield (ids[0], context), ids


def extract(root: Path) -> dict[str, dict[Key, tuple[str, ...]]]:
    """The messages of each domain, as makemessages would find them."""
    domains: dict[str, dict[Key, tuple[str, ...]]] = {"django": {}, "djangojs": {}}
    for path in sources(root, ".py"):
        domains["django"].update(_keyed("python", path.read_bytes()))
    for path in sources(root, ".html"):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        # Its filler is not indented as Python would be; the tokenizer only needs the calls.
        code = "\n".join(line.lstrip() for line in code.splitlines())
        domains["django"].update(_keyed("python", code.encode()))
    for path in sources(root / "chat" / "static", ".js"):
        domains["djangojs"].update(_keyed("javascript", path.read_bytes()))
    return domains


def _strings(message) -> tuple[str, ...]:
    """A message's translations as a tuple: Babel reads plurals from a .mo as a list."""
    string = message.string
    return tuple(string) if isinstance(string, (list, tuple)) else (string,)


def problems(root: Path, locale_dir: Path) -> list[str]:
    """Every way the catalogues fall short of the sources, as sentences; none when complete."""
    found: list[str] = []
    for domain, messages in extract(root).items():
        if not messages:
            continue
        po_path = locale_dir / LANGUAGE / "LC_MESSAGES" / f"{domain}.po"
        mo_path = po_path.with_suffix(".mo")
        if not po_path.exists() or not mo_path.exists():
            found.append(f"{po_path} or its .mo is missing")
            continue
        with po_path.open("rb") as f:
            po = read_po(f)
        with mo_path.open("rb") as f:
            mo = read_mo(f)
        for (msgid, context), ids in sorted(messages.items(), key=lambda item: item[0][0]):
            entry = po.get(ids if len(ids) > 1 else msgid, context=context)
            where = f"{domain}.po: {msgid!r}"
            if entry is None:
                found.append(f"{where} is not in the catalogue (run make messages)")
                continue
            strings = _strings(entry)
            if entry.fuzzy or not all(s.strip() for s in strings):
                found.append(f"{where} has no Chinese translation")
                continue
            wanted = sorted(PLACEHOLDER.findall(" ".join(ids)))
            for s in strings:
                if sorted(set(PLACEHOLDER.findall(s))) != sorted(set(wanted)):
                    found.append(f"{where}: the translation {s!r} changes the placeholders")
            compiled = mo.get(entry.id, context=context)
            if compiled is None or _strings(compiled) != _strings(entry):
                found.append(f"{where}: the .mo differs from the .po (run make messages)")
    return found


class Command(BaseCommand):
    help = "Check that every translatable string has a Chinese translation, compiled."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--locale-dir", type=Path, default=settings.LOCALE_PATHS[0])
        parser.add_argument("--root", type=Path, default=settings.BASE_DIR)

    def handle(self, *args, locale_dir: Path, root: Path, **options) -> None:
        found = problems(root, locale_dir)
        if found:
            raise CommandError("\n".join(found))
        self.stdout.write("Every message has a Chinese translation, compiled.")
