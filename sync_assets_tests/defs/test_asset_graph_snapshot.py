"""The asset graph (keys, deps, groups, freshness kind), jobs, sensors and schedules against a committed
snapshot, so an accidental rename or lane change shows up in review. Update: UPDATE_SNAPSHOTS=1 pytest ..."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sync_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _graph() -> dict:
    d = defs()
    g = d.resolve_asset_graph()
    assets = {}
    for key in sorted(g.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = g.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "freshness": type(node.freshness_policy).__name__ if node.freshness_policy else None,
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in d.jobs),
        "sensors": sorted(s.name for s in d.sensors),
        "schedules": sorted(s.name for s in d.schedules),
    }


def test_asset_graph_matches_snapshot():
    current = _graph()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: create it with UPDATE_SNAPSHOTS=1"
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8")), (
        "asset graph changed; if intended, re-run with UPDATE_SNAPSHOTS=1 and commit the snapshot")
