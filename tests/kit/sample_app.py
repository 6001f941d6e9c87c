"""A minimal service built on the kit, so the kit's behaviour is tested apart from any service."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify
from pydantic import Field
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.api import BEARER_AUTH, CamelModel, make_spec
from services.kit.app import create_service_app
from services.kit.auth import current_user, ensure_self_or_admin, require_auth, require_role
from services.kit.config import ServiceConfig
from services.kit.db import db_session
from services.kit.events import emit_event

spec = make_spec("Sample")
bp = Blueprint("sample", __name__)


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "sample_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


class NoteIn(CamelModel):
    text: str = Field(min_length=1, max_length=100)
    owner_id: int | None = None


@bp.post("/api/notes")
@require_auth
@spec.validate(security=BEARER_AUTH)
def create_note(json: NoteIn):
    note = Note(text=json.text)
    db_session().add(note)
    db_session().commit()
    emit_event("Product Search", {"searchQuery": json.text, "resultsCount": 1})
    return jsonify({"id": note.id, "text": note.text, "by": current_user().id}), 201


@bp.get("/api/notes")
@spec.validate()
def list_notes():
    notes = db_session().scalars(select(Note).order_by(Note.id)).all()
    return jsonify([{"id": n.id, "text": n.text} for n in notes])


@bp.get("/api/admin-only")
@spec.validate(security=BEARER_AUTH)
@require_role("ADMIN")
def admin_only():
    return jsonify({"ok": True})


@bp.get("/api/users/<int:user_id>/notes")
@spec.validate(security=BEARER_AUTH)
def user_notes(user_id: int):
    ensure_self_or_admin(user_id)
    return jsonify({"userId": user_id})


def create_app(config: ServiceConfig):
    return create_service_app(__name__, config, blueprints=[bp], spec=spec,
                              service_dir=Path(__file__).parent)
