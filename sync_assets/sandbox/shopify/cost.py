"""Calculated query cost and the leaky bucket (reference §2.1).

Costs: scalar/enum 0, object 1, connection 2 + size × per-node cost (edges/node wrappers and pageInfo
are free), each mutation field 10. The requested cost sizes connections by ``first``/``last``; the
actual cost sizes them by what came back. The bucket is charged the requested cost up front and
refunded down to the actual cost afterwards.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLInterfaceType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast,
)

MUTATION_COST = 10
MAX_QUERY_COST = 1000


def _named(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _is_connection(t) -> bool:
    return isinstance(t, GraphQLObjectType) and t.name.endswith("Connection") and "pageInfo" in t.fields


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: dict):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        self.operation = operation
        self.variables = variables or {}

    def _fields(self, selection_set: SelectionSetNode | None, parent) -> list[tuple[FieldNode, Any]]:
        """Flatten fragments; fields under a type condition are resolved against that type."""
        out: list[tuple[FieldNode, Any]] = []
        if selection_set is None:
            return out
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append((sel, parent))
            elif isinstance(sel, InlineFragmentNode):
                t = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                out.extend(self._fields(sel.selection_set, t))
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    out.extend(self._fields(frag.selection_set, self.schema.get_type(frag.type_condition.name.value)))
        return out

    def _size(self, node: FieldNode, field) -> int:
        for arg in node.arguments or ():
            if arg.name.value in ("first", "last"):
                v = value_from_ast(arg.value, field.args[arg.name.value].type, self.variables)
                return int(v or 0)
        return 0

    def _field_def(self, parent, name: str):
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) or name == "__typename":
            return None
        return parent.fields.get(name)

    def requested(self) -> int:
        if self.operation.operation.value == "mutation":
            return MUTATION_COST * len(self._fields(self.operation.selection_set, self.schema.mutation_type))
        return self._selection(self.operation.selection_set, self.schema.query_type, None, actual=False)

    def actual(self, data: dict | None) -> int:
        if self.operation.operation.value == "mutation":
            return self.requested()
        if data is None:
            return 0
        return self._selection(self.operation.selection_set, self.schema.query_type, data, actual=True)

    def _selection(self, selection_set, parent, data, *, actual: bool) -> int:
        total = 0
        for node, owner in self._fields(selection_set, parent):
            field = self._field_def(owner, node.name.value)
            if field is None:
                continue
            key = node.alias.value if node.alias else node.name.value
            value = data.get(key) if isinstance(data, dict) else None
            total += self._field(node, field, value, actual=actual)
        return total

    def _field(self, node: FieldNode, field, value, *, actual: bool) -> int:
        t = _named(field.type)
        if not isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        if actual and value is None:
            return 0
        if _is_connection(t):
            return 2 + self._connection_nodes(node, t, field, value, actual=actual)
        if actual and isinstance(value, list):
            return sum(1 + self._selection(node.selection_set, t, v, actual=True) for v in value)
        return 1 + self._selection(node.selection_set, t, value, actual=actual)

    def _connection_nodes(self, node: FieldNode, conn_type, field, value, *, actual: bool) -> int:
        node_type = _named(conn_type.fields["nodes"].type)
        per_item_selections = []
        for sub, owner in self._fields(node.selection_set, conn_type):
            name = sub.name.value
            key = sub.alias.value if sub.alias else name
            if name == "nodes":
                per_item_selections.append((sub.selection_set, lambda v, k=key: (v or {}).get(k) or []))
            elif name == "edges":
                edge_type = _named(conn_type.fields["edges"].type)
                for inner, _ in self._fields(sub.selection_set, edge_type):
                    if inner.name.value == "node":
                        ik = inner.alias.value if inner.alias else "node"
                        per_item_selections.append(
                            (inner.selection_set, lambda v, k=key, ik=ik: [e.get(ik) for e in ((v or {}).get(k) or [])])
                        )
        if not per_item_selections:
            return 0
        if not actual:
            per_item = max(1 + self._selection(sel, node_type, None, actual=False) for sel, _ in per_item_selections)
            return self._size(node, field) * per_item
        return max(
            sum(1 + self._selection(sel, node_type, item, actual=True) for item in items(value))
            for sel, items in per_item_selections
        )


class LeakyBucket:
    """One bucket per access token: ``available`` points refill at ``restore_rate`` per second."""

    def __init__(self, size: float, restore_rate: float, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self.size, self.restore_rate, self._clock = float(size), float(restore_rate), clock
        self._available, self._stamp = float(size), clock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.size, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def reconfigure(self, size: float | None, restore_rate: float | None) -> None:
        with self._lock:
            self._refill()
            if size is not None:
                self.size = float(size)
                self._available = min(self._available, self.size)
            if restore_rate is not None:
                self.restore_rate = float(restore_rate)

    def try_charge(self, cost: int) -> bool:
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + points)

    def status(self) -> dict:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.size),
                "currentlyAvailable": int(math.floor(self._available)),
                "restoreRate": float(self.restore_rate),
            }
