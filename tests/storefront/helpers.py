"""Helpers for storefront tests that talk HTTP to the in-process stack."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import requests

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'<p class="flash flash-\w+">([^<]*)</p>')
# next= targets a browser would take off the site ("/<TAB>/evil.example" opens //evil.example) or
# that cannot go in a Location header; test_validation has the full list.
FOREIGN_NEXT = ["/\t/evil.example", "/\n", "/\r\n/evil.example", "/\\evil.example", "//evil.example"]
# How pydantic words a refusal; the pages must say it in Vietnamese.
_ENGLISH_VALIDATION = ("String should", "Value error", "Input should", "Field required")


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def flashes(html: str) -> list[str]:
    return _FLASH.findall(html)


def english_validation(html: str) -> list[str]:
    return [words for words in _ENGLISH_VALIDATION if words in html]


def field_error(html: str, field_id: str) -> str | None:
    """The message shown next to a form field (macros/forms.html), or None."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


class Browserless(requests.Session):
    """A cookie-keeping HTTP client that asks for HTML, like a browser without JavaScript."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url
        self.trust_env = False
        self.headers["Accept"] = "text/html,application/xhtml+xml"

    def request(self, method, url, *args, follow: bool = False, **kwargs):
        """Redirects are returned, not followed (pass follow=True to follow them)."""
        kwargs.setdefault("timeout", 15)
        kwargs["allow_redirects"] = follow
        return super().request(method, self.base_url + url if url.startswith("/") else url,
                               *args, **kwargs)

    def form_post(self, page_path: str, action: str, data: dict) -> requests.Response:
        """Load the page the form is on (for its CSRF token), then submit."""
        page = self.get(page_path)
        assert page.status_code == 200, page.status_code
        return self.post(action, data={"csrf_token": csrf_token(page.text), **data})

    def login(self, email: str, password: str) -> None:
        response = self.form_post("/login", "/login", {"email": email, "password": password})
        assert response.status_code == 302, response.text[:500]


class _FormReader(HTMLParser):
    """What a browser without JavaScript submits from one form, untouched: its inputs (a checkbox
    only when ticked), textareas and each select's chosen option (else its first)."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[list[str]] = []
        self._textarea: list[str] | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        names = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form":
            self.inside = names.get("id") == self.form_id
        if not self.inside or "name" not in names and tag != "option":
            return
        checkbox = names.get("type") == "checkbox"
        if tag == "input" and (not checkbox or "checked" in names):
            self.fields.append([names["name"], names.get("value", "on" if checkbox else "")])
        elif tag == "textarea":
            self._textarea = [names["name"], ""]
            self.fields.append(self._textarea)
        elif tag == "select":
            self._select = {"name": names["name"], "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = names.get("value", "")
            self._select["first"] = self._select["first"] if self._select["first"] is not None else value
            if "selected" in names:
                self._select["chosen"] = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            # HTML drops one line break right after <textarea>.
            if self._textarea is not None and self._textarea[1].startswith("\n"):
                self._textarea[1] = self._textarea[1][1:]
            self._textarea = None
        elif tag == "select" and self._select is not None:
            select = self._select
            chosen = select["first"] if select["chosen"] is None else select["chosen"]
            self.fields.append([select["name"], chosen])
            self._select = None


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The fields of the form with this id as a browser would submit them (one value per name)."""
    reader = _FormReader(form_id)
    reader.feed(html)
    assert reader.fields, f"no form {form_id!r} on the page"
    return {name: value for name, value in reader.fields}


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would refuse: inline <script>, on* handlers, style attributes."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self._in_inline_script = True
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name == "style":
                self.problems.append(f"{tag} style=")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def new_shopper_with_an_order(stack, name: str, address: str) -> dict:
    """A shopper just registered, with one order of a tiramisu: `{**shopper, "order", "product"}`."""
    shopper = stack.register(name=name)
    product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
    order = stack.api("POST", "/api/orders", shopper["token"], json={
        "items": [{"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}],
        "shippingAddress": address})
    assert order.status_code == 201, order.text
    return {**shopper, "order": order.json(), "product": product}
