from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_assets.domain.windows import QueryWindow, Watermark, advance, dedupe, format_ts, next_window

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def rec(i: int, seconds: float) -> dict:
    return {"id": f"gid://shopify/Order/{i}", "updatedAt": format_ts(T0 + timedelta(seconds=seconds))}


def test_window_bounds():
    wm = Watermark(T0 + timedelta(seconds=600), "5")
    w = next_window(wm, T0 + timedelta(seconds=1000), overlap_seconds=300, safety_lag_seconds=10, initial_start=T0)
    assert w == QueryWindow(T0 + timedelta(seconds=300), T0 + timedelta(seconds=990))
    assert w.shopify_query() == "updated_at:>='2025-01-01T00:05:00Z' AND updated_at:<'2025-01-01T00:16:30Z'"
    assert next_window(None, T0 + timedelta(seconds=5), overlap_seconds=0, safety_lag_seconds=10, initial_start=T0) is None


def test_dedupe_drops_processed_outside_and_older_versions():
    w = QueryWindow(T0, T0 + timedelta(seconds=100))
    records = [rec(1, 10), rec(2, 20), rec(2, 30), rec(3, 100), rec(4, 5)]
    processed = {("gid://shopify/Order/4", T0 + timedelta(seconds=5))}
    assert dedupe(records, w, processed) == [rec(1, 10), rec(2, 30)]


def test_empty_window_still_advances_to_its_end_and_never_backwards():
    w = QueryWindow(T0, T0 + timedelta(seconds=100))
    assert advance(None, w, [], drained=True) == Watermark(T0 + timedelta(seconds=100), "")
    later = Watermark(T0 + timedelta(seconds=500), "1")
    assert advance(later, w, [], drained=True) == later


def test_partial_processing_stops_at_the_last_processed_record():
    w = QueryWindow(T0, T0 + timedelta(seconds=100))
    assert advance(None, w, [rec(10, 20), rec(9, 20)], drained=False) == Watermark(T0 + timedelta(seconds=20), "gid://shopify/Order/10")


@settings(max_examples=150, deadline=None)
@given(
    updates=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 2000), st.integers(0, 8)), max_size=60),
    polls=st.lists(st.integers(1, 200), min_size=1, max_size=40),
    batch=st.integers(1, 10),
)
def test_polling_never_loses_an_update(updates, polls, batch):
    """Each update becomes visible within the lag (delay ≤ 8 s < lag 10 s); every version must be processed."""
    lag, overlap = 10, 30
    events = [(i, T0 + timedelta(seconds=t), T0 + timedelta(seconds=t + d)) for i, t, d in updates]
    watermark, processed = None, set()
    clock = T0
    for step in polls + [3000] * 40:  # then let time run out so everything is due
        clock += timedelta(seconds=step)
        window = next_window(watermark, clock, overlap_seconds=overlap, safety_lag_seconds=lag, initial_start=T0)
        if window is None:
            continue
        # the store holds the latest visible version per id
        latest: dict = {}
        for i, updated, visible in events:
            if visible <= clock and (i not in latest or latest[i] < updated):
                latest[i] = updated
        result = [{"id": str(i), "updatedAt": format_ts(u)} for i, u in latest.items() if window.start <= u <= window.end]
        todo = dedupe(result, window, processed)
        done = todo[:batch]
        processed |= {(r["id"], datetime.fromisoformat(r["updatedAt"].replace("Z", "+00:00"))) for r in done}
        watermark = advance(watermark, window, done, drained=len(done) == len(todo))
    final = {}
    for i, updated, _ in events:
        final[i] = max(final.get(i, updated), updated)
    assert {(str(i), u) for i, u in final.items()} <= processed
