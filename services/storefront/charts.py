"""Chart geometry for the admin analytics page, rendered as inline SVG by templates/macros/charts.html.

Server-side SVG needs no JavaScript (the CSP forbids inline scripts anyway), prints, and stays
readable to screen readers through each chart's <title>, <desc> and a data table beside it
(`Chart.table_rows`: what is drawn inside the SVG is presentational to them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from .formatting import vnd

WIDTH = 640


MIN_REVENUE_AXIS = 100_000  # ₫


def nice_ceiling(value: float) -> float:
    """The smallest 'round' number ≥ value (1, 2, 2.5, 5 × 10^k), for axis maxima."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)


def compact_vnd(amount: float) -> str:
    """Axis labels: 1.500.000 → '1,5 tr', 300.000 → '300 k'."""
    for limit, suffix in ((1e9, " tỷ"), (1e6, " tr"), (1e3, " k")):
        if abs(amount) >= limit:
            # Up to three decimals: a quarter of a 'nice' maximum can be 1,875 tr, never rounded.
            text = f"{amount / limit:.3f}".rstrip("0").rstrip(".").replace(".", ",")
            return text + suffix
    return f"{amount:.0f}"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str  # x-axis label ('' when skipped to avoid crowding)
    title: str  # tooltip and accessible text


@dataclass(frozen=True)
class Row:
    label: str
    value_text: str
    x: float
    y: float
    width: float
    bar_height: float
    text_y: float
    note: str = ""


@dataclass
class Chart:
    id: str
    title: str
    description: str
    width: int
    height: int
    kind: str
    columns: list[Column] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    right_ticks: list[Tick] = field(default_factory=list)
    line_points: str = ""
    dots: list[tuple[float, float, str]] = field(default_factory=list)
    plot: tuple[float, float, float, float] = (0, 0, 0, 0)  # left, top, right, bottom
    empty: bool = False
    table_rows: list[tuple[str, ...]] = field(default_factory=list)  # the drawn figures, as text


def daily_chart(days: Sequence[dict], *, chart_id: str = "daily") -> Chart:
    """Revenue per day as columns (left axis) and orders per day as a line (right axis)."""
    height, left, right, top, bottom = 280, 64, 40, 16, 44
    chart = Chart(chart_id, "Đơn hàng và doanh thu theo ngày",
                  "Cột: doanh thu mỗi ngày; đường: số đơn mỗi ngày (không tính đơn đã hủy).",
                  WIDTH, height, "daily", plot=(left, top, WIDTH - right, height - bottom))
    chart.empty = not days or not any(day["orders"] for day in days)
    if not days:
        return chart
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    # A period without revenue still gets a true scale, not ticks of 0,25 ₫ that read "0, 0, 0, 1".
    max_revenue = nice_ceiling(max(MIN_REVENUE_AXIS, *(day["revenue"] for day in days)))
    max_orders = max(4, math.ceil(max(day["orders"] for day in days) / 4) * 4)
    slot = plot_w / len(days)
    label_every = max(1, math.ceil(len(days) / 10))
    points, dots = [], []
    for index, day in enumerate(days):
        bar_h = plot_h * day["revenue"] / max_revenue
        x = left + index * slot
        when = date.fromisoformat(day["date"])
        label = when.strftime("%d/%m") if index % label_every == 0 else ""
        chart.columns.append(Column(
            round(x + slot * 0.15, 2), round(top + plot_h - bar_h, 2), round(slot * 0.7, 2),
            round(bar_h, 2), label,
            f"{when.strftime('%d/%m/%Y')}: {day['orders']} đơn, {vnd(day['revenue'])}"))
        cx = round(x + slot / 2, 2)
        cy = round(top + plot_h - plot_h * day["orders"] / max_orders, 2)
        points.append(f"{cx},{cy}")
        dots.append((cx, cy, f"{day['orders']} đơn"))
        if day["orders"]:
            chart.table_rows.append((when.strftime("%d/%m/%Y"), str(day["orders"]), vnd(day["revenue"])))
    chart.line_points = " ".join(points)
    chart.dots = dots
    for step in range(5):
        y = round(top + plot_h - plot_h * step / 4, 2)
        chart.ticks.append(Tick(y, compact_vnd(max_revenue * step / 4)))
        chart.right_ticks.append(Tick(y, str(int(max_orders * step / 4))))
    return chart


def bar_chart(rows: Sequence[tuple[str, float, str]], *, chart_id: str, title: str,
              description: str) -> Chart:
    """Horizontal bars, label above each bar so long Vietnamese names fit on a phone."""
    row_h, bar_h, top, left, right = 44, 16, 8, 8, 190
    chart = Chart(chart_id, title, description, WIDTH, top * 2 + row_h * max(1, len(rows)), "bars")
    chart.empty = not rows or not any(value for _, value, _ in rows)
    largest = max((value for _, value, _ in rows), default=0) or 1
    plot_w = WIDTH - left - right
    for index, (label, value, value_text) in enumerate(rows):
        y = top + index * row_h
        chart.rows.append(Row(label, value_text, left, y + 20, round(max(2, plot_w * value / largest), 2),
                              bar_h, y + 14))
        chart.table_rows.append((label, value_text))
    return chart


def funnel_chart(steps: Sequence[tuple[str, int]], *, chart_id: str = "funnel") -> Chart:
    """Centred bars shrinking step by step, with the share of the previous step and of the first."""
    row_h, bar_h, top = 56, 24, 8
    chart = Chart(chart_id, "Phễu chuyển đổi",
                  "Số phiên truy cập ở mỗi bước: xem sản phẩm, thêm vào giỏ, bắt đầu thanh toán, đặt hàng.",
                  WIDTH, top * 2 + row_h * len(steps), "funnel")
    first = steps[0][1] if steps else 0
    chart.empty = not first
    plot_w = WIDTH - 16
    previous = None
    for index, (label, count) in enumerate(steps):
        # A later step can exceed the first (a session that viewed before the range): the bar stops
        # at full width, while its number and percentages still say how many.
        width = plot_w * min(count, first) / first if first else 0
        y = top + index * row_h
        if previous is None:
            note = ""
        else:
            of_previous = f"{count / previous:.0%}" if previous else "—"
            of_first = f"{count / first:.0%}" if first else "—"
            note = f"{of_previous} so với bước trước · {of_first} so với bước đầu"
        sessions = f"{count:,}".replace(",", ".")
        chart.rows.append(Row(label, sessions, round((WIDTH - width) / 2, 2),
                              y + 20, round(max(width, 2), 2), bar_h, y + 14, note))
        chart.table_rows.append((label, sessions, note or "—"))
        previous = count
    return chart
