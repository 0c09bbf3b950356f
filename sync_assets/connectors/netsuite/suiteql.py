"""SuiteQL text: binding values safely, timestamp columns, and keyset page queries (no I/O here).

Values never get pasted into SuiteQL: :func:`bind` replaces ``:name`` placeholders (outside string
literals) with :func:`literal` renderings, which double single quotes and refuse anything that is not a
plain scalar. So a SKU like ``O'Brien's "Best"`` round-trips as data and cannot end the literal early.

Rows come back as NetSuite sends them, and callers must expect that: keys are lower case (even for
``AS MixedCase`` aliases), every value is a string (numbers, ids, ``COUNT(*)``), booleans are ``'T'``/``'F'``,
and a NULL column is *missing* from the row rather than ``None`` — use ``row.get(col)`` and build column
sets from the union of keys. Datetimes selected raw lose their time part and follow the user's date
format; select them through :func:`ts_column` and compare through :func:`ts_literal`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo
from decimal import Decimal
from typing import Any

ROW_CAP = 100_000  # NetSuite's hard limit on rows one SuiteQL query can page through
MAX_PAGE = 1000  # largest `limit` NetSuite accepts
MAX_IN_LIST = 1000  # largest IN (...) list NetSuite accepts
TS_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_PY_TS_FORMAT = "%Y-%m-%d %H:%M:%S"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_PLACEHOLDER = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def literal(value: Any) -> str:
    """Render one scalar as a SuiteQL literal.

    None → NULL; bool → 'T'/'F' (SuiteQL's checkbox values); int/finite float/Decimal → the number;
    str → quoted with single quotes doubled; datetime → TO_TIMESTAMP(...); date → TO_DATE(...).
    Anything else (lists, dicts, bytes, objects, NaN) raises TypeError/ValueError naming the value's type.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "'T'" if value else "'F'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot put a non-finite float ({value!r}) into SuiteQL")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot put a non-finite Decimal ({value!r}) into SuiteQL")
        return format(value, "f")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("cannot put a string containing a NUL character into SuiteQL")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        return ts_literal(value)
    if isinstance(value, date):
        return f"TO_DATE('{value.isoformat()}', 'YYYY-MM-DD')"
    raise TypeError(f"cannot put a {type(value).__name__} into SuiteQL: only None, bool, numbers, str, date, datetime")


def bind(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Replace each ``:name`` outside string literals with ``literal(params[name])``.

    A list/tuple/set/frozenset parameter renders as a parenthesised list of scalar literals for
    ``IN :names`` (1..1000 items, NetSuite's limit). Every placeholder must have a value and every value
    must be used: a typo is an error, not a silently unfiltered query.
    """
    params = dict(params or {})
    used: set[str] = set()
    out: list[str] = []
    for is_literal, chunk in _split_literals(sql):
        if is_literal:
            out.append(chunk)
            continue

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in params:
                raise KeyError(f"SuiteQL placeholder :{name} has no value (given: {sorted(params) or 'none'})")
            used.add(name)
            return _render(name, params[name])

        out.append(_PLACEHOLDER.sub(substitute, chunk))
    unused = set(params) - used
    if unused:
        raise KeyError(f"SuiteQL parameters not used by the query: {sorted(unused)}")
    return "".join(out)


def _render(name: str, value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        if not 1 <= len(items) <= MAX_IN_LIST:
            raise ValueError(f"SuiteQL list parameter :{name} has {len(items)} items; it needs 1..{MAX_IN_LIST}")
        return "(" + ", ".join(literal(v) for v in items) + ")"
    return literal(value)


def _split_literals(sql: str) -> Iterable[tuple[bool, str]]:
    """Yield (is_string_literal, text) chunks; a literal is '...' with '' as an escaped quote."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        if sql[i] == "'":
            if start < i:
                yield False, sql[start:i]
            j = i + 1
            while True:
                j = sql.find("'", j)
                if j == -1:
                    raise ValueError(f"SuiteQL has an unterminated string literal starting at character {i}")
                if j + 1 < n and sql[j + 1] == "'":
                    j += 2
                    continue
                break
            yield True, sql[i : j + 1]
            i = start = j + 1
        else:
            i += 1
    if start < n:
        yield False, sql[start:]


def identifier(name: str) -> str:
    """Validate a column name (optionally ``alias.column``) that must be pasted as SQL text."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a plain SuiteQL column name: {name!r}")
    return name


def ts_column(column: str, alias: str | None = None) -> str:
    """``TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS') AS alias``: keeps the time part and a sortable format."""
    col = identifier(column)
    name = identifier(alias) if alias else col.split(".")[-1]
    return f"TO_CHAR({col}, '{TS_FORMAT}') AS {name}"


def ts_literal(value: datetime) -> str:
    """``TO_TIMESTAMP('2024-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')`` for comparisons.

    NetSuite compares in the integration user's time zone, not UTC; an aware datetime is refused so a
    caller cannot believe a conversion happened.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"ts_literal needs a datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValueError(
            "ts_literal takes a naive datetime in the NetSuite user's time zone; convert the aware value first"
        )
    return f"TO_TIMESTAMP('{value.strftime(_PY_TS_FORMAT)}', '{TS_FORMAT}')"


def parse_ts(text: str) -> datetime:
    """Parse a value selected through :func:`ts_column` (naive, in the NetSuite user's time zone)."""
    return datetime.strptime(text, _PY_TS_FORMAT)


def from_user_time(text: str, tz_name: str) -> datetime:
    """A :func:`ts_column` value, read in the integration user's zone ``tz_name``, as an aware UTC datetime."""
    return parse_ts(text).replace(tzinfo=ZoneInfo(tz_name)).astimezone(timezone.utc)


def to_user_time(moment: datetime, tz_name: str) -> datetime:
    """An aware moment as the naive whole-second time the integration user's zone shows (for ts_literal)."""
    return moment.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None, microsecond=0)


_TOP_LEVEL_WORDS = re.compile(r"\b(WHERE|ORDER\s+BY|GROUP\s+BY|HAVING|FETCH|UNION|INTERSECT|MINUS)\b", re.IGNORECASE)


def keyset_page_query(select_sql: str, key_column: str, after: Any | None) -> str:
    """``select_sql`` narrowed to rows with ``key_column > after`` and ordered by it.

    ``select_sql`` is a plain ``SELECT ... FROM ... [WHERE ...]`` (placeholders already bound) without
    ORDER BY / GROUP BY / FETCH / set operators at top level; its WHERE condition is kept intact inside
    parentheses, so an ``OR`` in it cannot escape the key filter.
    """
    key = identifier(key_column)
    text = select_sql.strip().rstrip(";").rstrip()
    where_at: int | None = None
    for word, position in _top_level_keywords(text):
        if word == "WHERE":
            if where_at is not None:
                raise ValueError("keyset query has two top-level WHERE clauses")
            where_at = position
        else:
            raise ValueError(
                f"keyset query must not have a top-level {word}: the pager adds its own ORDER BY {key};"
                " wrap aggregates in a sub-select"
            )
    key_filter = None if after is None else f"{key} > {literal(after)}"
    if where_at is None:
        body = text + (f" WHERE {key_filter}" if key_filter else "")
    else:
        head, condition = text[:where_at], text[where_at + len("WHERE") :].strip()
        body = f"{head}WHERE ({condition})" + (f" AND {key_filter}" if key_filter else "")
    return f"{body} ORDER BY {key} ASC"


def has_top_level_order_by(sql: str) -> bool:
    return any(word == "ORDER BY" for word, _ in _top_level_keywords(sql))


def _top_level_keywords(sql: str) -> Iterable[tuple[str, int]]:
    """(normalised keyword, offset) of clause keywords at parenthesis depth 0 and outside literals."""
    offset = 0
    depth = 0
    for is_literal, chunk in _split_literals(sql):
        if not is_literal:
            last = 0
            for match in _TOP_LEVEL_WORDS.finditer(chunk):
                depth += chunk.count("(", last, match.start()) - chunk.count(")", last, match.start())
                last = match.start()
                if depth == 0:
                    yield " ".join(match.group(1).upper().split()), offset + match.start()
            depth += chunk.count("(", last) - chunk.count(")", last)
        offset += len(chunk)
