"""What people type, read strictly, and what the APIs refused, said in Vietnamese."""

from __future__ import annotations

import re
from typing import Any

from .formatting import thousands

# ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١" (which it reads as 1).
WHOLE_NUMBER = re.compile(r"[0-9]{1,15}")
# 25000, or thousands grouped in threes as Vietnamese writes them (25.000, 1.250.000, 1 250 000),
# optionally followed by ₫. Anything else (25.5, 1.5, 12.0000) is refused rather than guessed at.
PRICE = re.compile(r"([0-9]{1,15}|[0-9]{1,3}(?:\.[0-9]{3}){1,4}|[0-9]{1,3}(?: [0-9]{3}){1,4})\s*₫?")
PRICE_REFUSED = "Giá không hợp lệ: hãy nhập số đồng, ví dụ 25000 hoặc 25.000."

GENERIC = "Giá trị không hợp lệ."
REQUIRED = "Vui lòng nhập thông tin này."
# By pydantic error type; {n} is the limit the API's English message names.
MESSAGES = {
    "missing": REQUIRED,
    "string_too_short": "Cần ít nhất {n} ký tự.",
    "string_too_long": "Tối đa {n} ký tự.",
    "string_pattern_mismatch": "Có ký tự không hợp lệ.",
    "int_type": "Vui lòng nhập số nguyên.",
    "int_parsing": "Vui lòng nhập số nguyên.",
    "int_from_float": "Vui lòng nhập số nguyên.",
    "float_type": "Vui lòng nhập một số.",
    "float_parsing": "Vui lòng nhập một số.",
    "greater_than": "Phải lớn hơn {n}.",
    "greater_than_equal": "Phải từ {n} trở lên.",
    "less_than": "Phải nhỏ hơn {n}.",
    "less_than_equal": "Tối đa {n}.",
}
PHONE_CHARACTERS = "chữ số, dấu cách và các dấu ( ) . -, có thể mở đầu bằng +"
# Where the field says more than the type: a validator's own refusal ("value_error"), a pattern, or
# a length that is not the real problem (an empty e-mail is "too short"; so is the phone "abc").
FIELD_MESSAGES = {
    ("email", "value_error"): "Email không hợp lệ.",
    ("email", "string_too_short"): "Vui lòng nhập một địa chỉ email hợp lệ.",
    ("phone", "string_pattern_mismatch"): f"Số điện thoại chỉ gồm {PHONE_CHARACTERS}",
    ("phone", "string_too_short"): "Số điện thoại cần ít nhất {n} ký tự, chỉ gồm " + PHONE_CHARACTERS,
    ("password", "value_error"): "Mật khẩu quá dài.",
    ("newPassword", "value_error"): "Mật khẩu quá dài.",
    ("currentPassword", "wrong_password"): "Mật khẩu hiện tại không đúng.",
    ("name", "value_error"): "Tên cần có ít nhất một chữ cái hoặc chữ số.",
    ("categoryId", "value_error"): "Danh mục không tồn tại.",
}
NUMBER = re.compile(r"\d+")
LINE_BREAK = re.compile(r"\r\n?")


def whole_number(raw: str | None) -> int | None:
    """A number typed with ASCII digits and nothing else (surrounding spaces aside), else None."""
    text = (raw or "").strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def multi_line(raw: str | None) -> str:
    """A textarea's text, its line breaks as LF and surrounding spaces dropped. Browsers submit each
    line break as CRLF, two characters where the textarea's maxlength counted one, so a text at the
    limit was refused as too long, and a shorter one stored with CRs."""
    return LINE_BREAK.sub("\n", raw or "").strip()


def parse_price(raw: str | None) -> int | None:
    """A price in đồng as an admin types it, else None (see PRICE)."""
    match = PRICE.fullmatch((raw or "").strip())
    return int(re.sub(r"[. ]", "", match.group(1))) if match else None


def field_message(field: str, detail: dict[str, Any]) -> str:
    """Vietnamese for one of an API's validation details ({"field", "message", "type"})."""
    kind = str(detail.get("type", ""))
    template = FIELD_MESSAGES.get((field, kind)) or MESSAGES.get(kind, GENERIC)
    if "{n}" not in template:
        return template
    limit = NUMBER.search(str(detail.get("message", "")))
    if limit is None:
        return GENERIC
    if kind == "string_too_short" and limit.group() == "1":
        return REQUIRED  # "at least 1 character": the field was left empty
    return template.format(n=thousands(int(limit.group())))
