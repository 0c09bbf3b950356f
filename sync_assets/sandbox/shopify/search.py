"""A subset of Shopify's search syntax (``query:`` arguments): ``field:value`` terms joined by AND.

Comparators ``:``, ``:<``, ``:>``, ``:<=``, ``:>=``; values bare or single/double-quoted. As on Shopify, a
term this resource cannot filter on is not an error: it is ignored and reported in
``extensions.search[].warnings`` (reference §2.3), so a typo widens a result instead of failing the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

_TERM = re.compile(r"""\s*(?:(?P<field>[A-Za-z_][\w.]*)(?P<op>:<=|:>=|:<|:>|:)(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)|(?P<bare>\S+))""")
_RANGE = {":>=": "range_gte", ":>": "range_gt", ":<=": "range_lte", ":<": "range_lt", ":": "match_all"}
INVALID_FIELD = "Invalid search field for this query."


@dataclass
class Term:
    field: str
    op: str  # one of ":", ":<", ":>", ":<=", ":>="
    value: str


@dataclass
class Search:
    query: str
    terms: list[Term] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    # ``a AND b OR c`` as Shopify reads it: OR of AND-groups (AND binds tighter). One group without OR.
    groups: list[list[Term]] = field(default_factory=lambda: [[]])

    def accepts(self, record_value) -> bool:
        """True when some AND-group has every term matching; ``record_value(field)`` reads the record."""
        return any(all(matches(t, record_value(t.field)) for t in group) for group in self.groups if group)

    def parsed(self) -> dict:
        parts = [{"field": t.field, _RANGE[t.op]: t.value} for t in self.terms]
        return parts[0] if len(parts) == 1 else {"and": parts}


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def parse_datetime(value: str) -> datetime | None:
    """Parse an ISO-8601 date or timestamp; naive values are taken as UTC (we always send explicit Z)."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def parse(query: str | None, fields: set[str], date_fields: set[str]) -> Search:
    search = Search(query or "")
    if not query:
        return search
    pos = 0
    while pos < len(query):
        m = _TERM.match(query, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group("bare") is not None:
            word = m.group("bare")
            if word == "AND":
                continue
            if word == "OR":
                search.groups.append([])
                continue
            search.warnings.append({"field": word, "message": "Unsupported search term in the sandbox; ignored."})
            continue
        name, op, value = m.group("field"), m.group("op"), _unquote(m.group("value"))
        if name not in fields:
            search.warnings.append({"field": name, "message": INVALID_FIELD})
            continue
        if name in date_fields and parse_datetime(value) is None:
            search.warnings.append({"field": name, "message": f"Invalid date value `{value}`."})
            continue
        term = Term(name, op, value)
        search.terms.append(term)
        search.groups[-1].append(term)
    return search


def matches(term: Term, actual) -> bool:
    """Compare a record's value (str, or datetime for date fields) against one term."""
    if isinstance(actual, datetime):
        want = parse_datetime(term.value)
    else:
        actual, want = (str(actual or "")).lower(), term.value.lower()
    if term.op == ":":
        if isinstance(actual, datetime):
            return actual == want
        return actual == want or (want.endswith("*") and actual.startswith(want[:-1]))
    return {
        ":>=": actual >= want, ":>": actual > want, ":<=": actual <= want, ":<": actual < want,
    }[term.op]
