"""Shoppers signing in through the storefront are throttled each on their own address, not together.

browser -> gateway -> storefront -> gateway -> users, as browser -> ALB -> storefront -> ALB -> users
on AWS: the storefront passes the browser's chain on, so users sees past every hop of ours.
"""

from __future__ import annotations

from services.gateway import create_gateway
from services.storefront import create_app as create_storefront
from services.storefront.config import StorefrontConfig
from services.users import create_app as create_users
from services.users.config import UsersConfig
from tests.conftest import live_server

from .helpers import Browserless

TOO_MANY = "Bạn đã thử đăng nhập quá nhiều lần"
WRONG = "Email hoặc mật khẩu không đúng."


def test_each_shopper_behind_the_storefront_has_their_own_login_limit(stack):
    users = create_users(UsersConfig(environment="test", database_url=stack.database_url,
                                     data_dir=stack.public_key_file.parent, bcrypt_rounds=4,
                                     log_level="WARNING", login_limit_per_address="2 per minute"))
    storefront_slot = {}

    def storefront(environ, start_response):
        return storefront_slot["app"](environ, start_response)

    try:
        with live_server(users) as users_url, live_server(storefront) as storefront_url:
            upstreams = {"users": users_url, "catalog": stack.catalog_url, "orders": stack.url,
                         "storefront": storefront_url}
            with live_server(create_gateway(upstreams)) as gateway_url:
                storefront_slot["app"] = create_storefront(StorefrontConfig(
                    environment="test", api_base_url=gateway_url, api_retries=0,
                    jwt_public_key_file=str(stack.public_key_file)))

                def shopper(address: str) -> Browserless:
                    # The test runs on loopback, a trusted hop: the address it claims stands for
                    # the one the ALB writes for a browser on the internet.
                    browser = Browserless(gateway_url)
                    browser.headers["X-Forwarded-For"] = address
                    return browser

                def attempt(browser: Browserless):
                    return browser.form_post("/login", "/login",
                                             {"email": "nobody@example.com", "password": "wrong-password"})

                first, second = shopper("203.0.113.7"), shopper("198.51.100.23")
                for _ in range(2):
                    response = attempt(first)
                    assert response.status_code == 401 and WRONG in response.text
                locked_out = attempt(first)
                assert locked_out.status_code == 429 and TOO_MANY in locked_out.text
                for _ in range(2):
                    response = attempt(second)
                    assert response.status_code == 401 and WRONG in response.text
    finally:
        users.extensions["db"].engine.dispose()
