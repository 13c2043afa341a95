"""Message bodies rendered from Markdown to HTML, once, when a message is stored or edited.

CommonMark (markdown-it-py) with what a chat needs: emphasis, strong, strikethrough, inline
code, fenced code blocks, links (and bare URLs made links), block quotes, lists; a line break
is a line break, as people type in a chat. Raw HTML in a body is text (`html: False`), and the
result is cleaned by nh3 against an allowlist anyway: links only to http, https and mailto,
opening elsewhere without the page's opener or referrer. `@username` of a member becomes a
mention element, which clients highlight (their own name more).

Clients show the result as it is; rendering here, once, keeps every client (the browser, bots,
a terminal) and every reader of a message seeing the same thing, at no cost per delivery.
"""

import re
from collections.abc import Collection

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

# Django usernames are letters, digits and @.+-_; a trailing '.' is punctuation, not the name.
MENTION = re.compile(r"(?<![\w@])@([\w.@+-]*[\w@+-])")

TAGS = {
    "p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href"},
    "code": {"class"},
    "ol": {"start"},
    "span": {"class", "data-user"},
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer"

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True, "typographer": False})
    .enable(["linkify", "strikethrough"])
    .disable(["image", "heading", "lheading", "hr", "html_block", "html_inline"])
)

# linkify-it's own pretest is one large regex costing about half a microsecond per character
# of text without a link (a long Chinese message: 2.2 of its 2.5 ms). A link it could find
# always holds a scheme's colon, an email's @ or a dot between two letters or digits of a host
# name, so text with none of them is not asked (bench/render.py).
_MAY_LINK = re.compile(r"[:@]|[^\W_]\.[^\W_]")
_pretest = _markdown.linkify.pretest
_markdown.linkify.pretest = lambda text: _MAY_LINK.search(text) is not None and _pretest(text)


def mentioned(body: str) -> set[str]:
    """The usernames a body names with `@`, members or not."""
    return set(MENTION.findall(body)) if "@" in body else set()


def _mark_mentions(tokens: list[Token], members: Collection[str]) -> None:
    """Split the text tokens (never code, nor a link's text) at the `@name` of a member, into
    text and a `mention` token."""
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        children: list[Token] = []
        in_link = 0
        for child in token.children:
            in_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if child.type != "text" or in_link or "@" not in child.content:
                children.append(child)
                continue
            position = 0
            for match in MENTION.finditer(child.content):
                if match.group(1) not in members:
                    continue
                if match.start() > position:
                    children.append(_text(child.content[position : match.start()]))
                mention = Token("mention", "span", 0)
                mention.meta = {"user": match.group(1)}
                children.append(mention)
                position = match.end()
            if position < len(child.content):
                children.append(_text(child.content[position:]))
        token.children = children


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _render_mention(renderer, tokens: list[Token], index: int, options, env) -> str:
    escaped = escapeHtml(tokens[index].meta["user"])
    return f'<span class="mention" data-user="{escaped}">@{escaped}</span>'


_markdown.add_render_rule("mention", _render_mention)


# Most chat lines are plain text: no character Markdown, a link or a mention could start
# from, no line that could open a list, a quote or a code block. Those render as their lines
# in paragraphs, exactly what the full path makes of them (tests/test_rich_messages.py compares
# the two on generated text), in a microsecond instead of ~90 (docs/performance.md).
_NOT_PLAIN = re.compile(
    r"[\\`*_~\[\]<>&@:\x00-\x09\x0b-\x1f\x7f-\x9f]"  # Markdown's, a mention's, controls
    r"|[^\S \n]"  # whitespace but spaces and line breaks
    r"|[^\W_]\.[^\W_]"  # a host name's dot
    r"|\n\n\n"
)
_BLOCK_START = re.compile(r"^(?: |[-+>]|\d{1,9}[.)])", re.MULTILINE)


def _plain(body: str) -> str | None:
    """The HTML of a body of plain text, or None when Markdown has to read it."""
    if not body or body != body.strip() or _NOT_PLAIN.search(body) or _BLOCK_START.search(body):
        return None
    return "\n".join(
        "<p>" + "<br>\n".join(line.rstrip(" ") for line in paragraph.split("\n")) + "</p>"
        for paragraph in body.split("\n\n")
    )


def render(body: str, members: Collection[str] = ()) -> str:
    """The body as safe HTML; `members`: the usernames of the room's members it mentions."""
    plain = _plain(body)
    return plain if plain is not None else render_markdown(body, members)


def render_markdown(body: str, members: Collection[str] = ()) -> str:
    """`render` without its shortcut for plain text."""
    tokens = _markdown.parse(body)
    if members:
        _mark_mentions(tokens, members)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()


def excerpt(body: str, length: int = 100) -> str:
    """A message's text on one line, for a reply's quote."""
    line = " ".join(body.split())
    return line if len(line) <= length else line[: length - 1] + "…"
