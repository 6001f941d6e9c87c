"""Template filters: đồng, Vietnam-local dates, order statuses, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from flask import Flask

VIETNAM = timezone(timedelta(hours=7), "ICT")  # Vietnam has no daylight saving time

ORDER_FLOW = ("PENDING", "PROCESSING", "SHIPPED", "DELIVERED")
ORDER_STATUSES = (*ORDER_FLOW, "CANCELLED")
STATUS_LABELS = {
    "PENDING": "Chờ xác nhận",
    "PROCESSING": "Đang chuẩn bị",
    "SHIPPED": "Đang giao",
    "DELIVERED": "Đã giao",
    "CANCELLED": "Đã hủy",
}
ROLE_LABELS = {"CUSTOMER": "Khách hàng", "ADMIN": "Quản trị viên"}


def thousands(number: int) -> str:
    """1250000 → '1.250.000' (Vietnamese groups thousands with dots)."""
    sign = "-" if number < 0 else ""
    return f"{sign}{abs(int(number)):,}".replace(",", ".")


def vnd(amount: int | None) -> str:
    """299000 → '299.000 ₫'."""
    if amount is None:
        return "—"
    return thousands(amount) + " ₫"


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_time(value: str | datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    parsed = parse_time(value)
    return parsed.astimezone(VIETNAM).strftime(fmt) if parsed else ""


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "", role or "")


def install_filters(app: Flask) -> None:
    app.add_template_filter(vnd)
    app.add_template_filter(local_time)
    app.add_template_filter(status_label)
    app.add_template_filter(role_label)
    app.jinja_env.globals.update(ORDER_FLOW=ORDER_FLOW, ORDER_STATUSES=ORDER_STATUSES)
