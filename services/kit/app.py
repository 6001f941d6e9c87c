"""The Flask app factory every service builds on."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
from flask import Blueprint, Flask, current_app, jsonify, request
from flask.sessions import SessionInterface
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from .auth import TokenVerifier
from .config import ServiceConfig
from .db import Database, upgrade
from .errors import Unprocessable, error_response, register_error_handlers
from .events import EventEmitter
from .logs import configure_logging, install_request_id
from .routing import BoundedIntegerConverter

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def create_service_app(
    import_name: str,
    config: ServiceConfig,
    *,
    blueprints: Iterable[Blueprint] = (),
    spec=None,
    service_dir: Path | None = None,
    json_api: bool = True,
) -> Flask:
    """`service_dir` holds the service's Alembic `migrations/`; None means it has no database."""
    app = Flask(import_name)
    app.url_map.converters["int"] = BoundedIntegerConverter  # ids past int(max=...) are 404, not 405
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=config.max_content_length)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["config"] = config
    configure_logging(config.service_name, config.log_level)
    install_request_id(app)

    db = Database(config) if service_dir else None
    if db:
        db.init_app(app)

        @app.cli.command("migrate")
        def migrate():
            """Upgrade this service's tables to the newest migration."""
            upgrade(service_dir, config)
            click.echo(f"{config.service_name}: migrated")

    app.extensions["token_verifier"] = TokenVerifier(config)
    app.extensions["events"] = EventEmitter(config.service_name, config.event_log_file)
    register_error_handlers(app, rollback=db.rollback if db else (lambda: None))
    if json_api:
        app.before_request(_check_json_body)
        app.session_interface = _NoSessions()
    app.register_blueprint(_health_blueprint(db))

    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    if spec is not None:
        spec.register(app)
        app.add_url_rule("/openapi.json", "openapi", lambda: jsonify(spec.spec))
    return app


class _NoSessions(SessionInterface):
    """JSON APIs keep no cookie session (callers send a bearer token): Flask's default signed one
    built its serializer on every request for nothing (README "Benchmarks")."""

    def open_session(self, app, request):
        return None  # Flask then gives the request a null session, and never saves it

    def save_session(self, app, session, response):
        pass


def current_config() -> ServiceConfig:
    return current_app.extensions["config"]


def _check_json_body():
    """415 for a body that is not JSON, 400 for JSON that does not parse, 413 for > 1 MB."""
    if request.method not in BODY_METHODS:
        return None
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"Request body is larger than {limit} bytes")
    # Any spelling gunicorn accepts as chunked ("Chunked", "gzip, chunked") is a body to check.
    codings = request.headers.get("Transfer-Encoding", "").lower().split(",")
    has_body = bool(request.content_length) or "chunked" in (coding.strip() for coding in codings)
    if not has_body:
        return None
    if not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json")
    if request.content_length is None and len(request.get_data(cache=True)) >= limit:
        # Chunked: werkzeug stops reading at the limit without a word, and the cut JSON would read
        # as malformed (a 400), not as too large.
        raise RequestEntityTooLarge(f"Request body is larger than {limit} bytes")
    try:
        body = request.get_json()
    except BadRequest as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    except RecursionError as exc:  # e.g. [[[[...]]]] thousands deep: the parser gives up
        raise BadRequest("Request body is nested too deeply") from exc
    if not isinstance(body, dict):
        # Spectree reads null, [], "", 0 and false as "no body" (an empty object), which some models
        # accept: a cancel sent `[]` would cancel. Every body in our contract is an object.
        kind = "null" if body is None else type(body).__name__
        raise Unprocessable("The request body must be a JSON object",
                            details=[{"field": "body", "message": f"{kind} is not a request body",
                                      "type": "not_an_object"}])
    return None


def _health_blueprint(db: Database | None) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/health/live")
    def liveness():
        """The process answers. ECS and the ALB replace a task that fails this, and a new task cannot
        fix a database outage, so it does not ask the database: `/health` does."""
        return jsonify({"status": "alive", "service": current_config().service_name})

    @bp.get("/health")
    def health():
        name = current_config().service_name
        if db is not None:
            try:
                db.ping()
            except Exception:  # any failure to reach the database means "not healthy"
                return error_response(503, "database_unavailable", "The database is unreachable",
                                      {"service": name})
        return jsonify({"status": "ok", "service": name})

    return bp
