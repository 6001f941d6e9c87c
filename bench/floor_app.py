"""The floor: the least work a Flask app under our gunicorn settings can do per request.

It answers every GET with a fixed JSON body (a copy of the product list, so the bytes on the wire
match), with no database, no validation and no logging. The services' numbers are read against it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response


def create_app(body_file: str) -> Flask:
    body = Path(body_file).read_bytes()
    app = Flask(__name__)

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def static_json(path: str) -> Response:
        return Response(body, mimetype="application/json")

    return app
