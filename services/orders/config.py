"""Orders settings, read from the environment."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from services.kit.config import ServiceConfig


class OrdersConfig(ServiceConfig):
    service_name: str = "orders"

    # The catalog is the only source of prices. Worst case for one lookup is
    # (connect + read) x (retries + 1): about 6 s with the defaults, well inside the ALB's 60 s.
    catalog_url: str = "http://127.0.0.1:3001"
    catalog_connect_timeout: float = Field(default=1.0, gt=0, le=10)
    catalog_read_timeout: float = Field(default=2.0, gt=0, le=30)
    catalog_retries: int = Field(default=1, ge=0, le=3)

    # Asked only when an admin orders for someone else: that the customer exists.
    users_url: str = "http://127.0.0.1:3003"
    users_connect_timeout: float = Field(default=1.0, gt=0, le=10)
    users_read_timeout: float = Field(default=2.0, gt=0, le=30)
    users_retries: int = Field(default=1, ge=0, le=3)

    shipping_fee_vnd: int = Field(default=30_000, ge=0, le=10_000_000)
    # Orders are counted on the shop's calendar day (Vietnam), for filters and the daily summary.
    business_timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("business_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)
