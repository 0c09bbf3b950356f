"""SuiteQL over REST (reference §3): Oracle-flavoured SQL translated to DuckDB and run for real.

Wire rules reproduced: ``Prefer: transient`` required; ``limit`` 1..1000 (default 1000); ``offset`` a multiple
of ``limit``; a page past the row cap is refused; a page past the end is 404; row keys lower case, every
value a string, NULL columns omitted, booleans 'T'/'F', dates without a TO_CHAR rendered in the user's
date format (M/D/YYYY, time part lost); each row carries ``"links": []``. Without ORDER BY the rows come
back in a fresh random order on every request, so a client paging an unordered query is caught.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.oracle import Oracle

from .db import DISPLAY_VALUE, AccountDB
from .errors import NetSuiteError

MAX_LIMIT = 1000


class _SuiteQL(Oracle):
    """Oracle with TO_CHAR/TO_DATE/TO_TIMESTAMP kept raw: sqlglot's own format mapping is case-sensitive,
    keeps quoted literals ("T") and turns TO_DATE into a DATE cast (Oracle DATEs carry a time)."""

    class Parser(Oracle.Parser):
        FUNCTIONS = {
            **Oracle.Parser.FUNCTIONS,
            **{name: (lambda n: lambda args: exp.Anonymous(this=n, expressions=args))(name)
               for name in ("TO_CHAR", "TO_DATE", "TO_TIMESTAMP")},
        }


_FORMAT_TOKENS = [
    ("YYYY", "%Y"), ("HH24", "%H"), ("HH12", "%I"), ("MONTH", "%B"), ("FF6", "%f"), ("FF3", "%g"),
    ("FF", "%f"), ("MON", "%b"), ("DAY", "%A"), ("DY", "%a"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"),
    ("HH", "%I"), ("MI", "%M"), ("SS", "%S"), ("AM", "%p"), ("PM", "%p"),
]


def oracle_format_to_strftime(fmt: str) -> str:
    """Translate an Oracle datetime format model ('YYYY-MM-DD"T"HH24:MI:SS') to strftime codes."""
    out, i, upper = [], 0, fmt.upper()
    while i < len(fmt):
        ch = fmt[i]
        if ch == '"':
            end = fmt.find('"', i + 1)
            if end < 0:
                raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid search query. Unterminated literal in "
                                                              f"format {fmt!r}")
            out.append(fmt[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        for token, code in _FORMAT_TOKENS:
            if upper.startswith(token, i):
                out.append(code)
                i += len(token)
                # FF1..FF9: fractional digits; DuckDB offers milliseconds (%g) or microseconds (%f) only
                if token == "FF" and i < len(fmt) and fmt[i].isdigit():
                    out[-1] = "%g" if fmt[i] in "123" else "%f"
                    i += 1
                break
        else:
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out)


def _literal_format(node: exp.Expression, fn: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid search query. {fn} needs a literal format.")
    return oracle_format_to_strftime(node.this)


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        args = node.expressions
        if name in ("TO_DATE", "TO_TIMESTAMP"):
            if len(args) == 1:
                return exp.cast(args[0], "TIMESTAMP")
            return exp.Anonymous(this="STRPTIME", expressions=[args[0], exp.Literal.string(
                _literal_format(args[1], name))])
        if name == "TO_CHAR":
            if len(args) == 1:
                return exp.cast(args[0], "VARCHAR")
            return exp.Anonymous(this="STRFTIME", expressions=[exp.cast(args[0], "TIMESTAMP"), exp.Literal.string(
                _literal_format(args[1], name))])
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.upper() == "BUILTIN":
        return _builtin(node.expression)
    return node


def _builtin(call: exp.Expression) -> exp.Expression:
    """BUILTIN.DF(column): the display value of a reference or status column."""
    if not (isinstance(call, exp.Anonymous) and call.name.upper() == "DF" and len(call.expressions) == 1
            and isinstance(call.expressions[0], exp.Column)):
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid search query. Unsupported built-in: "
                                                      f"BUILTIN.{call.sql()}")
    col: exp.Column = call.expressions[0].copy()
    name = col.name.lower()
    if not col.table:
        # The display lookup is a subquery: an unqualified column would bind to the looked-up table itself.
        select = call.find_ancestor(exp.Select)
        source = select.args.get("from_") if select else None
        if source is None or select.args.get("joins"):
            raise NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. Qualify the column in "
                                f"BUILTIN.DF({col.sql()}) with its table alias.")
        col.set("table", exp.to_identifier(source.this.alias_or_name))
    if name == "status":
        type_col = exp.column("type", table=col.table)
        return exp.Anonymous(this="ns_df_status", expressions=[col, type_col])
    if name in DISPLAY_VALUE:
        return exp.Anonymous(this=DISPLAY_VALUE[name], expressions=[col])
    return col  # a column that is not a reference displays as itself


_FORBIDDEN = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Merge)


@dataclass(frozen=True)
class Translated:
    sql: str  # DuckDB SQL of the whole query
    ordered: bool  # top-level ORDER BY present
    limited: bool  # query carries its own LIMIT/FETCH FIRST
    tables: frozenset[str] = frozenset()  # the analytics tables it reads (lower case)


@functools.lru_cache(maxsize=512)
def translate(q: str) -> Translated:
    """Oracle SuiteQL -> DuckDB, cached per query text (keyset paging repeats the same text with new binds)."""
    try:
        statements = sqlglot.parse(q, dialect=_SuiteQL)
    except sqlglot.errors.ParseError as e:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid search query. Detailed unprocessed description "
                                                      f"follows. Search error occurred: {_first_line(str(e))}")
    if len(statements) != 1 or statements[0] is None:
        raise NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. Exactly one SELECT statement expected.")
    tree = statements[0]
    if not isinstance(tree, exp.Query) or any(True for _ in tree.find_all(*_FORBIDDEN)):
        raise NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. Only SELECT statements are allowed.")
    if any(True for _ in tree.find_all(exp.With)):
        raise NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. WITH clauses are not supported.")
    tables = frozenset(t.name.lower() for t in tree.find_all(exp.Table))
    tree = tree.transform(_rewrite)
    return Translated(sql=tree.sql(dialect="duckdb"), ordered=bool(tree.args.get("order")),
                      limited=bool(tree.args.get("limit") or tree.args.get("offset") or tree.args.get("fetch")),
                      tables=tables)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


_UNKNOWN_COL = [re.compile(r'Referenced column "([^"]+)" not found'),
                re.compile(r'does not have a column named "([^"]+)"'),
                re.compile(r'Referenced table "([^"]+)" not found')]
_UNKNOWN_TABLE = re.compile(r"Table with name (\S+) does not exist")


def _query_error(e: duckdb.Error) -> NetSuiteError:
    msg = str(e)
    for pattern in _UNKNOWN_COL:
        m = pattern.search(msg)
        if m:
            return NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. Detailed unprocessed description "
                                 f"follows. Search error occurred: Unknown identifier '{m.group(1).lower()}'.")
    m = _UNKNOWN_TABLE.search(msg)
    if m:
        return NetSuiteError(400, "INVALID_PARAMETER", f"Record '{m.group(1).lower()}' was not found.")
    return NetSuiteError(400, "INVALID_PARAMETER", "Invalid search query. Detailed unprocessed description follows. "
                         f"Search error occurred: {_first_line(msg)}")


def render_value(value: object) -> str | None:
    """A SuiteQL value as NetSuite sends it: always a string (or absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(value, ".15g") if value == value else None
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.month}/{value.day}/{value.year}"  # user date-format preference; time part dropped
    return str(value)


def _int_param(args, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for query parameter {name}: {raw}.",
                            query_param=name) from None


def run(db: AccountDB, *, body: object, args, prefer: str | None, self_url: str, row_cap: int,
        denied_tables: frozenset[str] = frozenset()) -> dict:
    """Execute one SuiteQL page request and build the documented response body."""
    if "transient" not in (prefer or "").lower():
        raise NetSuiteError(400, "INVALID_REQUEST", "The request could not be understood by the server due to "
                            "malformed syntax. SuiteQL requests require the header Prefer: transient.",
                            )
    if not isinstance(body, dict) or not isinstance(body.get("q"), str) or not body["q"].strip():
        raise NetSuiteError(400, "INVALID_REQUEST", "The request could not be understood by the server due to "
                            "malformed syntax. Body must be a JSON object with a query string 'q'.")
    params = body.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str | int | float | bool) for p in params):
        raise NetSuiteError(400, "INVALID_REQUEST", "Bound parameters 'params' must be a list of scalar values.")
    limit = _int_param(args, "limit", MAX_LIMIT)
    offset = _int_param(args, "offset", 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for query parameter limit: {limit}. "
                            f"The value must be between 1 and {MAX_LIMIT}.", query_param="limit")
    if offset < 0 or offset % limit:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for query parameter offset: {offset}. "
                            "The offset must be a non-negative multiple of the limit.", query_param="offset")
    if offset + limit > row_cap:
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid value for query parameter offset: {offset}. "
                            f"You can return a maximum of {row_cap} results with a SuiteQL query; narrow the "
                            "query (for example WHERE id > last id ORDER BY id).", query_param="offset")
    t = translate(body["q"])
    for table in sorted(t.tables & denied_tables):
        # What a role without the table's permission gets: NetSuite hides the record type (reference §3.3).
        raise NetSuiteError(400, "INVALID_PARAMETER", f"Record '{table}' was not found.")
    page_sql = t.sql
    if t.limited:
        page_sql = f"SELECT * FROM ({page_sql}) AS _page"
    elif not t.ordered:
        page_sql = f"{page_sql} ORDER BY random()"
    page_sql += f" LIMIT {limit} OFFSET {offset}"
    cur = db.cursor()
    try:
        total = cur.execute(f"SELECT count(*) FROM ({t.sql}) AS _all", params).fetchone()[0]
        page = cur.execute(page_sql, params)
        names = [d[0].lower() for d in page.description]
        rows = page.fetchall()
    except duckdb.Error as e:
        raise _query_error(e) from None
    if total and offset >= total:
        raise NetSuiteError(404, "NONEXISTENT_ID", "Record does not exist.")  # past the end (reference §3.3)
    items = []
    for row in rows:
        item: dict = {"links": []}
        for name, value in zip(names, row):
            text = render_value(value)
            if text is not None:
                item[name] = text
        items.append(item)
    reachable = min(total, row_cap)
    has_more = offset + len(items) < reachable
    return {"links": _links(self_url, limit, offset, reachable, has_more), "count": len(items),
            "hasMore": has_more, "items": items, "offset": offset, "totalResults": total}


def _links(self_url: str, limit: int, offset: int, reachable: int, has_more: bool) -> list[dict]:
    def href(off: int) -> str:
        return f"{self_url}?{urlencode({'limit': limit, 'offset': off})}"

    last = max(0, (reachable - 1) // limit * limit)
    links = []
    if offset > 0:
        links += [{"rel": "prev", "href": href(max(0, offset - limit))}, {"rel": "first", "href": href(0)}]
    if has_more:
        links += [{"rel": "next", "href": href(offset + limit)}, {"rel": "last", "href": href(last)}]
    links.append({"rel": "self", "href": href(offset)})
    return links
