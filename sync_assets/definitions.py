"""The one place the Dagster code location is assembled."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs.resources import build_resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
