"""Calendar days in the shop's time zone: the unit daily partitions (reconciliation, finance) are cut in.

A merchant's "yesterday" is a day on their own calendar, which is also the day the orders flow writes as a
sales order's ``tranDate`` (the policy's ``account.order_date_timezone``). Cut in UTC, a store in Los Angeles
would see the evening's orders under the next day. A day is 23 or 25 hours on a daylight-saving switch; the
bounds come from the zone, never from adding 24 hours.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync_assets.domain.errors import MappingError

PARTITION_FORMAT = "%Y-%m-%d"  # Dagster's DailyPartitionsDefinition keys


def parse_day(key: date | str) -> date:
    if isinstance(key, date):
        return key
    try:
        return datetime.strptime(key, PARTITION_FORMAT).date()
    except ValueError:
        raise ValueError(f"not a day partition key (YYYY-MM-DD): {key!r}") from None


def day_bounds(day: date | str, tz_name: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the shop-local calendar day, as aware UTC datetimes."""
    d, zone = parse_day(day), ZoneInfo(tz_name)
    start = datetime.combine(d, time(0), tzinfo=zone)
    end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def local_day(moment: datetime | str, tz_name: str) -> date:
    """The shop-local calendar day of an aware moment (or an ISO timestamp with its offset)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone")
    return moment.astimezone(ZoneInfo(tz_name)).date()


def shop_date(value: object, tz_name: str, field_path: str) -> str:
    """``YYYY-MM-DD`` of an ISO timestamp on the shop's calendar: a NetSuite ``tranDate`` (sales orders,
    deposits and refunds alike, so a day's documents in NetSuite are the shop's day's, not UTC's). Bad input
    is a :class:`MappingError` naming ``field_path``."""
    if not isinstance(value, str):
        raise MappingError(f"expected an ISO timestamp, got {value!r}", field_path)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"timestamp {value!r} is not ISO 8601", field_path) from None
    if moment.tzinfo is None:
        raise MappingError(f"timestamp {value!r} has no timezone", field_path)
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"unknown time zone {tz_name!r} (account.order_date_timezone)", field_path) from None
    return moment.astimezone(zone).date().isoformat()


__all__ = ["PARTITION_FORMAT", "day_bounds", "local_day", "parse_day", "shop_date"]
