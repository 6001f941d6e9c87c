"""What gunicorn refuses before Flask sees it is answered in the kit's JSON error shape too."""

from __future__ import annotations

import json
import signal

import pytest

from tests.infra.test_gunicorn_stop import gunicorn


def _send(server, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    with server.connect() as conn:
        conn.sendall(raw)
        response = b""
        while chunk := conn.recv(65536):  # gunicorn closes the connection after a refusal
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"GET /api/products?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + b"a" * 9000 + b"\r\n\r\n",
     431, "headers_too_large"),
    (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(110)) + b"\r\n",
     431, "headers_too_large"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\x00b\r\n\r\n", 400, "bad_request"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\x01b\r\n\r\n", 400, "bad_request"),
])
def test_gunicorns_own_refusals_are_json_errors(tmp_path, raw, status, code):
    with gunicorn(tmp_path) as server:
        line, headers, body = _send(server, raw)
    assert line.split(" ", 2)[1] == str(status)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"] and error["details"] is None


def test_gunicorns_own_lines_are_json_like_the_services(tmp_path):
    """So the ERROR-lines alarm counts a worker timeout, and Logs Insights reads them."""
    with (tmp_path / "stderr").open("w+b") as stderr:
        with gunicorn(tmp_path, stderr=stderr) as server:
            _send(server, b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n")
            server.stop(signal.SIGTERM)
        stderr.seek(0)
        lines = [json.loads(line) for line in stderr.read().decode().splitlines()]
    assert {line["logger"] for line in lines} == {"gunicorn.error"}
    refused = [line for line in lines if line["message"].startswith("Invalid request")]
    assert [line["level"] for line in refused] == ["WARNING"]
    assert any(line["message"].startswith("Booting worker") for line in lines)
