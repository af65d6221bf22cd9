"""Request parameters shared by every door (the CLI's flags, the HTTP API's query strings, the MCP tools'
arguments): one parser per value, and one message per bad value, naming it and the allowed ones.

Each parser takes the parameter's name as the door spells it ("--kind" on the command line, "kind" over HTTP),
so a bad value reads the same everywhere but for that name.
"""

from __future__ import annotations

from mmrag.errors import MMRagError

MAX_QUERY_CHARS = 4000  # a question longer than this is not a question
MAX_PAGE = 1_000_000  # past any real document; larger numbers would overflow SQLite and Qdrant integers


class BadParameter(MMRagError):
    """A request parameter outside its allowed values; the message names the value and the allowed ones."""


def parse_list(value: str | None) -> list[str] | None:
    """A comma-separated value as a list (None when empty)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def parse_choices(name: str, value: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    """A comma-separated value whose every item must be one of `allowed`."""
    items = parse_list(value)
    for item in items or []:
        if item not in allowed:
            raise BadParameter(f"{name} {item!r}: use one of {', '.join(allowed)}")
    return items


def parse_ints(name: str, value: str) -> list[int]:
    """Positive integers separated by commas ("1,5,10")."""
    try:
        ks = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise BadParameter(f"{name} {value!r}: use positive integers separated by commas, e.g. 1,5,10") from None
    if not ks or min(ks) < 1:
        raise BadParameter(f"{name} {value!r}: use positive integers separated by commas, e.g. 1,5,10")
    return ks


def parse_pages(name: str, value: str | None) -> tuple[int, int] | None:
    """A page or a page range: "3" or "3-5" (1-based, first ≤ last); None when empty."""
    if not value:
        return None
    lo, _, hi = value.strip().partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise BadParameter(f"{name} {value!r}: use N or N-M, e.g. 3 or 3-5") from None
    if first < 1 or last < first or last > MAX_PAGE:
        raise BadParameter(f"{name} {value!r}: use N or N-M with 1 <= N <= M <= {MAX_PAGE}, e.g. 3 or 3-5")
    return (first, last)


def check_k(name: str, k: int, most: int) -> int:
    """A result count between 1 and `most`."""
    if not 1 <= k <= most:
        raise BadParameter(f"{name} {k!r}: use an integer from 1 to {most}")
    return k


def check_text(name: str, value: str | None, most: int = MAX_QUERY_CHARS) -> str:
    """A question or query: not empty, at most `most` characters, no NUL."""
    text = (value or "").strip()
    if not text:
        raise BadParameter(f"{name} is empty: give a question or search words")
    if len(text) > most:
        raise BadParameter(f"{name} is {len(text)} characters long: use at most {most}")
    if "\x00" in text:
        raise BadParameter(f"{name} holds a NUL character: send plain text")
    return text
