"""A throttled login or registration says roughly how long to wait and passes the users API's
Retry-After on, rather than "đợi một lát"."""

from __future__ import annotations

import re

import pytest

from services.storefront.api import ApiError

from .helpers import Browserless

WAIT = re.compile(r"Vui lòng thử lại sau (\d+) giây\.")


def _says_how_long_to_wait(throttled, reason: str) -> None:
    """A 429 page giving the reason and the wait in seconds (both limits are per minute), with the
    users API's Retry-After passed on."""
    assert throttled.status_code == 429
    assert reason in throttled.text
    said = WAIT.search(throttled.text)
    assert said, throttled.text
    assert throttled.headers["Retry-After"] == said.group(1) and 1 <= int(said.group(1)) <= 60


def test_a_throttled_login_says_how_many_seconds_to_wait(stack):
    shopper = stack.register(name="Khách Quên Mật Khẩu")
    browser = Browserless(stack.url)

    def attempt(password: str):
        return browser.form_post("/login", "/login", {"email": shopper["email"], "password": password})

    for _ in range(5):  # LOGIN_LIMIT_PER_EMAIL: 5 wrong passwords a minute
        assert attempt("sai-mat-khau").status_code == 401
    _says_how_long_to_wait(attempt(shopper["password"]), "Bạn đã thử đăng nhập quá nhiều lần.")


@pytest.mark.parametrize(("retry_after", "said"), [
    (58, "Vui lòng thử lại sau 58 giây."),
    (89, "Vui lòng thử lại sau 89 giây."),
    (90, "Vui lòng thử lại sau 2 phút."),
    (3599, "Vui lòng thử lại sau 60 phút."),
], ids=["seconds", "just-under-90s", "90s-in-minutes", "minutes-rounded-up"])
def test_a_throttled_registration_says_how_long_to_wait(stack, monkeypatch, retry_after, said):
    api = stack.storefront_app.extensions["storefront_api"]
    real_post = api.post

    def throttled(path, **kwargs):
        if path == "/api/auth/register":  # the users API's answer past REGISTER_LIMIT_PER_ADDRESS
            raise ApiError(429, "rate_limited", f"Too many attempts; try again in {retry_after} seconds",
                           {"retryAfter": retry_after})
        return real_post(path, **kwargs)

    monkeypatch.setattr(api, "post", throttled)
    response = Browserless(stack.url).form_post("/register", "/register", {
        "name": "Khách Mới", "email": "khach-moi@example.com", "password": "matkhau-123"})
    assert response.status_code == 429
    assert f"Bạn thao tác quá nhanh. {said}" in response.text
    assert response.headers["Retry-After"] == str(retry_after)


def test_a_throttled_password_change_says_how_many_seconds_to_wait(stack):
    shopper = stack.register(name="Khách Đổi Mật Khẩu")
    browser = Browserless(stack.url)
    browser.login(shopper["email"], shopper["password"])

    def attempt(current: str):
        return browser.form_post("/account/password", "/account/password", {
            "currentPassword": current, "newPassword": "mat-khau-moi-123",
            "confirmPassword": "mat-khau-moi-123"})

    answers = [attempt("sai-mat-khau").status_code for _ in range(6)]
    assert 422 in answers and answers[-1] == 429, answers
    _says_how_long_to_wait(attempt(shopper["password"]), "Bạn đã nhập sai mật khẩu hiện tại quá nhiều lần.")
