"""Pure parts of the storefront: money and time formatting, chart geometry, funnel counting."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

import boto3
import pytest
from moto import mock_aws

from services.storefront.charts import bar_chart, compact_vnd, daily_chart, funnel_chart, nice_ceiling
from services.storefront.config import StorefrontConfig
from services.storefront.formatting import local_time, vnd
from services.storefront.funnel import (
    EventLogSource,
    FunnelUnavailable,
    S3ExportSource,
    build_funnel,
    count_sessions,
    funnel_source,
)
from services.storefront.session import safe_next


@pytest.mark.parametrize(("amount", "text"), [
    (299000, "299.000 ₫"), (0, "0 ₫"), (30000, "30.000 ₫"), (1234567, "1.234.567 ₫"),
    (-5000, "-5.000 ₫"), (None, "—"),
])
def test_vnd_groups_thousands_with_dots(amount, text):
    assert vnd(amount) == text


def test_local_time_is_vietnam_time():
    assert local_time("2026-01-31T17:30:00Z") == "01/02/2026 00:30"
    assert local_time("2026-01-31T17:30:00.123Z", "%H:%M") == "00:30"
    assert local_time("not a time") == ""
    assert local_time(None) == ""


@pytest.mark.parametrize(("target", "expected"), [
    ("/cart", "/cart"), ("/products?q=banh", "/products?q=banh"),
    ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
    ("", "/"), (None, "/"),
])
def test_safe_next_only_allows_local_paths(target, expected):
    assert safe_next(target, "/") == expected


@pytest.mark.parametrize(("value", "nice"), [(0, 1), (7, 10), (11, 20), (240_000, 250_000),
                                            (310_000, 500_000), (1_000_000, 1_000_000)])
def test_nice_ceiling(value, nice):
    assert nice_ceiling(value) == nice


def test_compact_vnd():
    assert compact_vnd(1_500_000) == "1,5 tr"
    assert compact_vnd(300_000) == "300 k"
    assert compact_vnd(2_000_000_000) == "2 tỷ"
    assert compact_vnd(0) == "0"
    assert compact_vnd(1_250_000) == "1,25 tr" and compact_vnd(1_875_000) == "1,875 tr"


@pytest.mark.parametrize("top_revenue, labels", [
    (0, ["0", "25 k", "50 k", "75 k", "100 k"]),  # an empty period: a true scale, not "0, 0, 0, 1, 1"
    (4_100_000, ["0", "1,25 tr", "2,5 tr", "3,75 tr", "5 tr"]),
    (2_300_000, ["0", "625 k", "1,25 tr", "1,875 tr", "2,5 tr"]),
])
def test_the_daily_charts_revenue_ticks_say_where_their_lines_are(top_revenue, labels):
    days = [{"date": "2026-11-24", "orders": 0, "revenue": 0},
            {"date": "2026-11-25", "orders": 1 if top_revenue else 0, "revenue": top_revenue}]
    assert [tick.label for tick in daily_chart(days).ticks] == labels


def test_daily_chart_scales_columns_to_the_largest_day():
    days = [{"date": "2026-03-01", "orders": 1, "revenue": 100_000},
            {"date": "2026-03-02", "orders": 0, "revenue": 0},
            {"date": "2026-03-03", "orders": 4, "revenue": 500_000}]
    chart = daily_chart(days)
    left, top, right, bottom = chart.plot
    tallest = max(chart.columns, key=lambda c: c.height)
    assert tallest.height == pytest.approx(bottom - top)  # 500k is the axis maximum
    assert chart.columns[1].height == 0
    assert chart.columns[0].height == pytest.approx((bottom - top) / 5)
    assert chart.columns[0].label == "01/03"
    assert "4 đơn" in chart.columns[2].title and "500.000 ₫" in chart.columns[2].title
    assert len(chart.line_points.split()) == 3
    assert [tick.label for tick in chart.ticks] == ["0", "125 k", "250 k", "375 k", "500 k"]
    assert not chart.empty


def test_daily_chart_without_orders_is_marked_empty():
    chart = daily_chart([{"date": "2026-03-01", "orders": 0, "revenue": 0}])
    assert chart.empty
    assert chart.columns[0].height == 0


def test_bar_chart_widths_are_proportional():
    chart = bar_chart([("Mousse Dâu", 10, "10"), ("Tiramisu", 5, "5")], chart_id="b", title="t",
                      description="d")
    assert chart.rows[1].width == pytest.approx(chart.rows[0].width / 2)
    assert chart.rows[0].label == "Mousse Dâu"
    assert bar_chart([], chart_id="e", title="t", description="d").empty


def test_funnel_chart_reports_step_conversion():
    chart = funnel_chart([("Xem", 10), ("Giỏ", 5), ("Thanh toán", 4), ("Đặt", 2)])
    assert [row.value_text for row in chart.rows] == ["10", "5", "4", "2"]
    assert chart.rows[1].note.startswith("50% so với bước trước")
    assert "20% so với bước đầu" in chart.rows[3].note
    assert chart.rows[1].width == pytest.approx(chart.rows[0].width / 2)
    assert funnel_chart([("Xem", 0), ("Giỏ", 0)]).empty


def test_a_funnel_step_above_the_first_stays_inside_the_chart_and_keeps_its_numbers():
    chart = funnel_chart([("Xem", 4), ("Giỏ", 10), ("Thanh toán", 2), ("Đặt", 1)])
    widest = chart.rows[0]
    assert chart.rows[1].x == widest.x >= 0
    assert chart.rows[1].width == widest.width and widest.x + widest.width <= chart.width
    assert chart.rows[1].value_text == "10"
    assert chart.rows[1].note == "250% so với bước trước · 250% so với bước đầu"


def _event(name, session, timestamp="2026-03-02T03:00:00.000Z", **extra):
    return {"type": "user_action", "event": name, "eventId": f"{name}-{session}-{timestamp}",
            "timestamp": timestamp, "sessionId": session, "userId": None, **extra}


def test_funnel_counts_distinct_browser_sessions_per_step_within_vietnam_days():
    events = [
        _event("Product Viewed", "a"), _event("Product Viewed", "a"), _event("Product Viewed", "b"),
        _event("Product Viewed", "c"), _event("Add to Cart", "a"), _event("Add to Cart", "b"),
        _event("Checkout Started", "a"), _event("Order Completed", "a"),
        _event("Product Search", "d"),  # not a funnel step
        {"type": "log", "event": "Product Viewed", "sessionId": "z"},  # not an event line
        # 2026-03-03 17:30 UTC is already 2026-03-04 in Vietnam: outside the range.
        _event("Product Viewed", "late", timestamp="2026-03-03T17:30:00Z"),
        # 2026-03-01 17:30 UTC is 2026-03-02 00:30 in Vietnam: inside.
        _event("Product Viewed", "early", timestamp="2026-03-01T17:30:00Z"),
        # No browser session (an order placed through the API, as the Athena query sees it): not counted.
        {**_event("Add to Cart", None), "userId": "7"}, {**_event("Order Completed", None), "userId": "7"},
        _event("Order Completed", None), _event("Order Completed", ""),
    ]
    steps = count_sessions(events, date(2026, 3, 2), date(2026, 3, 3))
    assert steps == [("Xem sản phẩm", 4), ("Thêm vào giỏ", 2), ("Bắt đầu thanh toán", 1),
                     ("Đặt hàng", 1)]


def test_event_log_source_skips_torn_lines(tmp_path):
    log = tmp_path / "events.jsonl"
    lines = [json.dumps(_event("Product Viewed", "a")), "{not json", "",
             json.dumps(_event("Add to Cart", "a")), json.dumps([1, 2])]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    funnel = build_funnel(EventLogSource(log), days=7, today=date(2026, 3, 5))
    assert funnel.steps[:2] == [("Xem sản phẩm", 1), ("Thêm vào giỏ", 1)]
    assert funnel.first_day == date(2026, 2, 27)
    assert "events.jsonl" in funnel.source
    assert build_funnel(EventLogSource(tmp_path / "missing.jsonl"), 7).steps[0] == ("Xem sản phẩm", 0)


def test_funnel_source_prefers_the_local_log_then_the_bucket(tmp_path):
    assert isinstance(funnel_source(str(tmp_path / "e.jsonl"), "bucket", "user-actions"), EventLogSource)
    assert isinstance(funnel_source("", "bucket", "user-actions"), S3ExportSource)
    assert funnel_source("", "", "user-actions") is None
    assert build_funnel(None, 7) is None


def test_the_bucket_is_read_with_bounded_timeouts(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config = S3ExportSource("bucket", "user-actions").client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def _put_part(s3, day: str, hour: int, events: list[dict]) -> None:
    year, month, dom = day.split("-")
    body = gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode(), mtime=0)
    s3.put_object(Bucket="analytics", Key=f"user-actions/year={year}/month={month}/day={dom}/"
                                          f"part-{hour:02d}.jsonl.gz", Body=body)


def _put_manifest(s3, day: str, *, complete: bool) -> None:
    year, month, dom = day.split("-")
    s3.put_object(Bucket="analytics", Key=f"user-actions/year={year}/month={month}/day={dom}/"
                                          "_manifest.json", Body=json.dumps({"complete": complete}))


@mock_aws
def test_s3_export_source_reads_the_days_partitions():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="analytics")

    def part(day: str, hour: int, events: list[dict]) -> None:
        _put_part(s3, day, hour, events)

    part("2026-03-02", 9, [_event("Product Viewed", "a"), _event("Add to Cart", "a")])
    part("2026-03-02", 10, [_event("Product Viewed", "b", timestamp="2026-03-02T03:30:00Z")])
    part("2026-03-03", 0, [_event("Product Viewed", "c", timestamp="2026-03-02T17:10:00Z"),
                           _event("Order Completed", "c", timestamp="2026-03-02T17:20:00Z")])
    part("2026-02-20", 0, [_event("Product Viewed", "old", timestamp="2026-02-20T01:00:00Z")])
    s3.put_object(Bucket="analytics", Key="user-actions/year=2026/month=03/day=02/_manifest.json",
                  Body=b'{"parts": 2}')

    source = S3ExportSource("analytics", "user-actions/", client=s3)
    funnel = build_funnel(source, days=3, today=date(2026, 3, 3))
    assert funnel.steps == [("Xem sản phẩm", 3), ("Thêm vào giỏ", 1), ("Bắt đầu thanh toán", 0),
                            ("Đặt hàng", 1)]
    assert "s3://analytics/user-actions/" in funnel.source


def test_deployed_storefront_needs_a_secret_but_no_database():
    config = StorefrontConfig(environment="prod", secret_key="a-real-secret", api_base_url="https://shop")
    assert config.database_url == ""  # the storefront has no tables
    assert config.jwks_url == "https://shop/.well-known/jwks.json"
    with pytest.raises(ValueError, match="SECRET_KEY"):
        StorefrontConfig(environment="dev")


@mock_aws
def test_an_unreadable_bucket_makes_the_funnel_unavailable_not_the_page():
    client = boto3.client("s3", region_name="us-east-1")
    source = S3ExportSource("no-such-bucket", "user-actions", client=client)
    with pytest.raises(FunnelUnavailable):
        build_funnel(source, days=2, today=date(2026, 3, 3))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _count_s3_reads(s3) -> list[str]:
    calls: list[str] = []
    for operation in ("ListObjectsV2", "GetObject"):
        s3.meta.events.register(f"before-call.s3.{operation}",
                                lambda model, **_: calls.append(model.name))
    return calls


@mock_aws
def test_the_funnel_reads_a_complete_day_once_and_an_unfinished_day_after_the_ttl():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="analytics")
    _put_part(s3, "2026-03-02", 9, [_event("Product Viewed", "a"), _event("Add to Cart", "a")])
    _put_manifest(s3, "2026-03-02", complete=True)
    today = [_event("Product Viewed", "b", timestamp="2026-03-03T02:00:00Z")]
    _put_part(s3, "2026-03-03", 9, today)  # a test-mode export of today so far
    _put_manifest(s3, "2026-03-03", complete=False)
    clock = Clock()
    source = S3ExportSource("analytics", "user-actions", client=s3, cache_seconds=300, clock=clock)
    reads = _count_s3_reads(s3)

    def viewed() -> int:
        return build_funnel(source, days=2, today=date(2026, 3, 3)).steps[0][1]

    assert viewed() == 2
    first_reads = len(reads)
    assert first_reads == 2 * 3  # per day: the listing, the part and the manifest

    _put_part(s3, "2026-03-03", 10, [_event("Product Viewed", "c", timestamp="2026-03-03T03:00:00Z")])
    clock.now += 299
    assert viewed() == 2 and len(reads) == first_reads  # within the TTL: no S3 read at all
    clock.now += 2
    assert viewed() == 3  # today's partition again; the complete day still from memory
    assert len(reads) == first_reads + 4
    assert "5 phút" in source.describe()


@mock_aws
def test_a_day_not_exported_yet_is_not_remembered_as_empty():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="analytics")
    clock = Clock()
    source = S3ExportSource("analytics", "user-actions", client=s3, cache_seconds=60, clock=clock)
    assert build_funnel(source, days=1, today=date(2026, 3, 2)).steps[0] == ("Xem sản phẩm", 0)
    _put_part(s3, "2026-03-02", 9, [_event("Product Viewed", "a")])  # the nightly export lands
    _put_manifest(s3, "2026-03-02", complete=True)
    clock.now += 61
    assert build_funnel(source, days=1, today=date(2026, 3, 2)).steps[0] == ("Xem sản phẩm", 1)
    s3.delete_object(Bucket="analytics", Key="user-actions/year=2026/month=03/day=02/part-09.jsonl.gz")
    clock.now += 10_000
    assert build_funnel(source, days=1, today=date(2026, 3, 2)).steps[0] == ("Xem sản phẩm", 1)


@mock_aws
def test_a_failed_read_is_not_cached_and_old_days_are_dropped():
    s3 = boto3.client("s3", region_name="us-east-1")
    source = S3ExportSource("analytics", "user-actions", client=s3, cache_seconds=60, clock=Clock())
    with pytest.raises(FunnelUnavailable):
        build_funnel(source, days=1, today=date(2026, 3, 2))
    s3.create_bucket(Bucket="analytics")  # the permission or bucket is fixed
    _put_part(s3, "2026-03-02", 9, [_event("Product Viewed", "a")])
    assert build_funnel(source, days=1, today=date(2026, 3, 2)).steps[0] == ("Xem sản phẩm", 1)
    build_funnel(source, days=90, today=date(2026, 8, 1))
    build_funnel(source, days=90, today=date(2026, 5, 1))
    assert len(source._days) == S3ExportSource.MAX_CACHED_DAYS
    # The newest days stay: all of August's range, then the latest days of May's.
    latest = date(2026, 8, 1)
    assert all(latest - timedelta(days=day) in source._days for day in range(90))
    assert min(source._days) == date(2026, 5, 1) - timedelta(days=S3ExportSource.MAX_CACHED_DAYS - 90 - 1)


def test_the_funnel_cache_ttl_is_a_setting():
    config = StorefrontConfig(environment="test", funnel_cache_seconds=120)
    source = funnel_source("", "analytics", "user-actions", config.funnel_cache_seconds)
    assert source.cache_seconds == 120 and "2 phút" in source.describe()
    with pytest.raises(ValueError):
        StorefrontConfig(environment="test", funnel_cache_seconds=-1)
