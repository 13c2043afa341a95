"""Search that finds Chinese and English, on SQLite and on PostgreSQL alike.

One tokenizer, in Python, for what is indexed and for what is asked. Text is normalised
(Unicode NFKC, case folded). Runs of letters and digits of spaced scripts are words; a query
word also matches the start of a longer word (`sock` finds `sockets`). Runs of Chinese,
Japanese and Korean characters, written without spaces, are indexed as their pairs of
neighbours, in order, and as their single characters: a one-character query (`好`) matches a
single character, a two-character one (`聊天`) a pair, and a longer one its pairs one after the
other, as a phrase. Every part of a query must occur.

PostgreSQL's parsers and SQLite's unicode61 tokenizer keep a run of Chinese as one token, and a
trigram index cannot match one- or two-character words; PGroonga, zhparser and pg_jieba are not
packaged by Debian, and jieba is unmaintained. Indexing characters and pairs ourselves needs
nothing but what every PostgreSQL and SQLite has: the tokens are written, separated by spaces,
into `Message.search_text`, which PostgreSQL keeps as a stored `to_tsvector('simple', ...)`
column under a GIN index and SQLite as an FTS5 table (unicode61 over our spaces), both made by
migrations.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from . import writing
from .errors import Forbidden, Invalid, NotFound, TooLong
from .models import Membership, Message, Room, RoomBan

QUERY_MAX_LENGTH = 200
MAX_TERMS = 20
PAGE = 20

# Han, Hiragana, Katakana, Hangul and their compatibility and extension blocks: scripts
# written without spaces between words.
_CJK = (
    "\u2e80-\u2fff\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3040-\u30ff"
    "\u3100-\u312f\u3131-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKENS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")


@dataclass(frozen=True)
class Term:
    """A query's part: `parts` in a row (one for a word or a character, the pairs of a longer
    Chinese run), `prefix` for a word that may continue."""

    parts: tuple[str, ...]
    prefix: bool

    @property
    def text(self) -> str:
        """What it matches, as written (normalised): a Chinese run's pairs joined again, for a
        client to highlight."""
        return self.parts[0] + "".join(part[1:] for part in self.parts[1:])


def _runs(text: str) -> list[tuple[str, bool]]:
    """The text's runs: (run, written without spaces)."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    return [(cjk or word, bool(cjk)) for cjk, word in _TOKENS.findall(normal)]


def _pairs(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(body: str) -> str:
    """What a message is found by: its words; for each run of Chinese, its pairs in order (so
    that a longer query's pairs stand next to each other, for a phrase), then its characters."""
    tokens: list[str] = []
    for run, cjk in _runs(body):
        if cjk:
            tokens += _pairs(run)
            tokens += list(run)
        else:
            tokens.append(run)
    return " ".join(tokens)


def terms(query: str) -> list[Term]:
    """The parts of a query, each of which must occur. Punctuation alone gives none."""
    found: list[Term] = []
    for run, cjk in _runs(query):
        if not cjk:
            found.append(Term((run,), prefix=True))
        elif len(run) == 1:
            found.append(Term((run,), prefix=False))
        else:
            found.append(Term(tuple(_pairs(run)), prefix=False))
    return list(dict.fromkeys(found))[:MAX_TERMS]


def clean_query(query: str) -> str:
    query = query.strip()
    if not query:
        raise Invalid(gettext("Search for something: 'q' is empty."))
    if len(query) > QUERY_MAX_LENGTH:
        raise TooLong(
            gettext("A search is at most %(limit)d characters.") % {"limit": QUERY_MAX_LENGTH}
        )
    if "\x00" in query:
        raise Invalid(gettext("A search may not contain NUL characters."))
    return query


def _tsquery(found: list[Term]) -> str:
    """PostgreSQL: `'sock':* & '聊天' <-> '天室'`. Tokens hold letters and digits only, so
    quoting them in single quotes is all the escaping they need."""
    return " & ".join(
        " <-> ".join(f"'{part}'" for part in term.parts) + (":*" if term.prefix else "")
        for term in found
    )


def _fts5(found: list[Term]) -> str:
    """SQLite FTS5: `"sock"* "聊天 天室"` (a phrase for a run's pairs; terms AND-ed)."""
    return " ".join(
        '"' + " ".join(term.parts) + '"' + ("*" if term.prefix else "") for term in found
    )


def _matching(found: list[Term]) -> QuerySet:
    """Visible messages with every term: one service, two engines."""
    messages = Message.objects.visible()
    if connection.vendor == "postgresql":
        match = "chat_message.search_vector @@ to_tsquery('simple'::regconfig, %s)"
        return messages.filter(RawSQL(match, [_tsquery(found)], output_field=BooleanField()))
    fts = "SELECT rowid FROM chat_message_fts WHERE chat_message_fts MATCH %s"
    return messages.filter(pk__in=RawSQL(fts, [_fts5(found)]))


def open_rooms(user: AbstractBaseUser) -> QuerySet:
    """The rooms the user may open now: public ones and their own, never one they are banned
    from."""
    banned = RoomBan.objects.active().filter(user=user, room=OuterRef("pk"))
    mine = Membership.objects.filter(user=user, room=OuterRef("pk"))
    allowed = (Q(kind=Room.Kind.PUBLIC) | Q(Exists(mine))) & ~Q(Exists(banned))
    return Room.objects.filter(allowed).order_by()


def search(
    *,
    user: AbstractBaseUser,
    query: str,
    room_slug: str | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[Message], bool]:
    """Messages matching every part of the query in the rooms the user may open now, newest
    first, a page at a time (`before` an id), and whether more lie beyond the page."""
    found = terms(clean_query(query))
    if not found:
        return [], False  # punctuation only: nothing to find
    rooms = open_rooms(user)
    if room_slug is not None:
        room = Room.objects.filter(slug=room_slug).first()
        if room is None:
            raise NotFound(gettext("No such room."))
        if not rooms.filter(pk=room.pk).exists():
            raise Forbidden(gettext("You may not search that room."))
        rooms = rooms.filter(pk=room.pk)
    # The room ids as values, not a subquery: PostgreSQL's planner then knows how few messages
    # they hold and combines their index with the search index (docs/performance.md, "Search").
    messages = _matching(found).filter(room__in=list(rooms.values_list("pk", flat=True)))
    if before is not None:
        messages = messages.filter(pk__lt=before)
    # The ids first, alone: joined to the authors and replies, the query's row estimate misleads
    # PostgreSQL into walking the whole table backwards by id (docs/performance.md, "Search").
    ids = list(messages.order_by("-id").values_list("pk", flat=True)[: limit + 1])
    page = Message.objects.filter(pk__in=ids[:limit]).select_related(*writing.RELATED)
    return list(page.order_by("-id")), len(ids) > limit
