"""The model-card summary: a card's first prose paragraph (contract rule 12).

The first prose paragraph is the first top-level paragraph after the YAML front matter that is not
made only of images and badges; headings, lists, tables, code blocks, quotes and HTML blocks are other
kinds of block and are passed over. In it, links become their text, images and inline HTML tags are
removed, inline code and emphasis lose their markers, and whitespace is collapsed; the result is at most
`MAX_SUMMARY_CHARS` characters, cut at a word with an ellipsis. No card, or no such paragraph, gives None.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

MAX_SUMMARY_CHARS = 1000
ELLIPSIS = "…"
_FRONT_MATTER_OPEN = "---"
_FRONT_MATTER_CLOSE = ("---", "...")


def card_summary(markdown: str | None) -> str | None:
    """The summary of a model card's markdown, or None when there is no card or no prose paragraph."""
    if markdown is None:
        return None
    # PostgreSQL text cannot hold NUL.
    text = markdown.replace("\x00", "").removeprefix("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens = _markdown().parse(_strip_front_matter(text))
    for opening, inline in zip(tokens, tokens[1:]):
        # Paragraphs inside lists, quotes and tables are nested deeper than level 0.
        if opening.type != "paragraph_open" or opening.level != 0:
            continue
        paragraph = _collapse_whitespace(_inline_text(inline.children or []))
        if not _is_only_separators(paragraph):
            return _shorten(paragraph)
    return None


@cache
def _markdown() -> MarkdownIt:
    """CommonMark plus the GFM extensions cards use, so that a table is parsed as a table, not as prose.

    Made on the first card: only the details step reads cards, and the other steps skip the import."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _strip_front_matter(text: str) -> str:
    """The card without its YAML front matter.

    Front matter opens with `---` on the first line and ends at the next line that is `---` or `...`.
    One that never closes is not front matter: the Hub renders it as markdown, and so do we.
    """
    lines = text.split("\n")
    if lines[0].rstrip() != _FRONT_MATTER_OPEN:
        return text
    for line_index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in _FRONT_MATTER_CLOSE:
            return "\n".join(lines[line_index + 1 :])
    return text


def _inline_text(children: list[Token]) -> str:
    """The visible text of a paragraph's inline tokens.

    Emphasis, strikethrough and link markers (`*_open`/`*_close`), images with their alt text, and
    inline HTML tags contribute nothing; the text between the markers stays.
    """
    parts = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def _is_only_separators(text: str) -> bool:
    """Whether nothing but whitespace, punctuation and symbols is left, as between badges (`|`, `·`)."""
    return all(char.isspace() or unicodedata.category(char)[0] in "PS" for char in text)


def _shorten(text: str) -> str:
    if len(text) <= MAX_SUMMARY_CHARS:
        return text
    limit = MAX_SUMMARY_CHARS - len(ELLIPSIS)
    # The text's whitespace is single spaces, so a space at or before `limit` ends a whole word.
    cut = text.rfind(" ", 0, limit + 1)
    if cut == -1:
        cut = limit  # a first word longer than the limit is cut inside it
    return text[:cut] + ELLIPSIS
