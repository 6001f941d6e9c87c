"""Reading what people type (redirect targets, numbers, prices) and the APIs' refusals in Vietnamese."""

from __future__ import annotations

import pytest

from services.storefront.session import safe_next
from services.storefront.validation import GENERIC, field_message, multi_line, parse_price, whole_number

# Each is, to a browser, another host ("/<TAB>/evil.example" opens //evil.example) or cannot be a
# Location header at all (a newline).
FOREIGN_TARGETS = ["/\t/evil.example", "/\n", "/\r\n/evil.example", "/\x0b/evil.example", "//evil.example",
                   "/\\evil.example", "\\\\evil.example", "https://evil.example/", " /orders", "/orders\x00",
                   "/\u2028/evil.example", "/\x85/evil.example", "/orders page", "", None]


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_safe_next_refuses_anything_but_a_plain_same_site_path(target):
    assert safe_next(target, "/cart") == "/cart"


@pytest.mark.parametrize("target", ["/", "/orders?page=2", "/products?q=b%C3%A1nh+kem&size=12cm",
                                    "/products/7", "/admin/orders?status=PENDING&from=2026-01-01"])
def test_safe_next_keeps_same_site_paths(target):
    assert safe_next(target, "/cart") == target


@pytest.mark.parametrize(("typed", "number"), [("7", 7), (" 12 ", 12), ("0", 0), ("abc", None), ("", None),
                                               (None, None), ("2.5", None), ("-1", None), ("+1", None),
                                               ("1_0", None), ("١", None), ("²", None), ("9" * 5000, None)])
def test_whole_number_takes_ascii_digits_only(typed, number):
    assert whole_number(typed) == number


@pytest.mark.parametrize(("typed", "text"), [
    ("a\r\nb", "a\nb"), ("a\rb", "a\nb"), ("a\nb", "a\nb"), ("a\r\n\r\nb\r", "a\n\nb"), ("\r\n a \r\n", "a"),
    ("", ""), (None, "")])
def test_a_textareas_line_breaks_are_lf(typed, text):
    """As a textarea's maxlength counts them: one character each, where browsers submit CRLF."""
    assert multi_line(typed) == text


@pytest.mark.parametrize(("typed", "price"), [
    ("25000", 25000), ("25.000", 25000), ("1.250.000", 1250000), ("1 250 000", 1250000),
    ("25.000 ₫", 25000), ("25000₫", 25000), (" 120.000 ", 120000), ("0", 0)])
def test_prices_are_plain_or_grouped_in_threes(typed, price):
    assert parse_price(typed) == price


@pytest.mark.parametrize("typed", ["25.5", "1.5", "12.0000", "1.25.000", "25,000", "25.00", "-5", "abc", "",
                                   "₫", "١٢٠٠٠", "25 000.000", "1.250.000.000.000.000", "9" * 5000])
def test_other_prices_are_refused_not_guessed_at(typed):
    assert parse_price(typed) is None


@pytest.mark.parametrize(("field", "kind", "english", "vietnamese"), [
    ("name", "string_too_short", "String should have at least 1 character", "Vui lòng nhập thông tin này."),
    ("password", "string_too_short", "String should have at least 8 characters", "Cần ít nhất 8 ký tự."),
    ("description", "string_too_long", "String should have at most 2000 characters", "Tối đa 2.000 ký tự."),
    ("name", "string_pattern_mismatch", "String should match pattern '^[^\\x00-\\x1f\\x7f-\\x9f]*$'",
     "Có ký tự không hợp lệ."),
    ("email", "value_error", "Value error, An email address must have an @-sign.", "Email không hợp lệ."),
    # Lengths that are not the real problem: an empty e-mail, a phone typed with letters.
    ("email", "string_too_short", "String should have at least 3 characters",
     "Vui lòng nhập một địa chỉ email hợp lệ."),
    ("phone", "string_too_short", "String should have at least 6 characters",
     "Số điện thoại cần ít nhất 6 ký tự, chỉ gồm chữ số, dấu cách và các dấu ( ) . -, có thể mở đầu bằng +"),
    ("phone", "string_too_long", "String should have at most 20 characters", "Tối đa 20 ký tự."),
    ("price", "int_type", "Input should be a valid integer", "Vui lòng nhập số nguyên."),
    ("price", "greater_than_equal", "Input should be greater than or equal to 1", "Phải từ 1 trở lên."),
    ("price", "less_than_equal", "Input should be less than or equal to 1000000000", "Tối đa 1.000.000.000."),
    ("shippingAddress", "missing", "Field required", "Vui lòng nhập thông tin này."),
    ("currentPassword", "wrong_password", "is incorrect", "Mật khẩu hiện tại không đúng."),
    ("image", "value_error", "no image named 'x.svg' under /api/images/", GENERIC),
    ("price", "greater_than", "a limit without a number", GENERIC),
])
def test_api_refusals_are_said_in_vietnamese(field, kind, english, vietnamese):
    assert field_message(field, {"field": field, "message": english, "type": kind}) == vietnamese
