"""The per-day manifest: what the latest export of a day holds, and every run that touched it.

Analysts and operators read it to know a day is complete (`complete`), how many events each hour
holds, the sha256 of each part (to verify a download or spot a changed object), how many lines were
skipped and why, and the run history: each run appends one entry, and only the last
MAX_RUN_HISTORY are kept (older ones are counted in `runsOmitted`), so the manifest stays small
however often a day is re-exported (test mode may run every few minutes). Before a run changes the
first part, the manifest is replaced by one that says `"status": "exporting"` and claims nothing else,
so it is never out of step with the parts, even when the run fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .dedupe import SKIP_REASONS
from .windows import local_midnight

MANIFEST_VERSION = 1
TIMEZONE = "+07:00"
MAX_RUN_HISTORY = 100
# `status`: a run is rewriting the day's parts (or failed while it did), or the last run finished.
EXPORTING = "exporting"
EXPORTED = "exported"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PartRecord:
    hour: int
    location: str
    events: int
    bytes: int
    sha256: str
    skipped_lines: int
    duplicates: int
    written: bool  # False: an identical object was already there

    def to_manifest(self) -> dict[str, Any]:
        return {
            "hour": f"{self.hour:02d}",
            "location": self.location,
            "events": self.events,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "skippedLines": self.skipped_lines,
            "duplicates": self.duplicates,
        }


@dataclass
class RunRecord:
    run_id: str
    trigger: str
    source: str
    started_at: datetime
    finished_at: datetime
    complete: bool
    parts: list[PartRecord] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(part.events for part in self.parts)

    @property
    def duplicates(self) -> int:
        return sum(part.duplicates for part in self.parts)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "trigger": self.trigger,
            "source": self.source,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "complete": self.complete,
            "events": self.events,
            "skippedLines": sum(self.skipped.values()),
            "duplicates": self.duplicates,
            "partsWritten": sum(part.written for part in self.parts),
            "partsUnchanged": sum(not part.written for part in self.parts),
        }


def _day_fields(day: date) -> dict[str, Any]:
    """What every manifest of `day` starts with, whichever run wrote it."""
    return {"manifestVersion": MANIFEST_VERSION, "date": day.isoformat(), "timezone": TIMEZONE,
            "windowStart": iso(local_midnight(day))}


def build_manifest(day: date, run: RunRecord, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The day's manifest after `run`: its parts and counts, plus the last runs ending with `run`."""
    previous = previous or {}
    history = [*previous.get("runs", []), run.to_manifest()]
    omitted = previous.get("runsOmitted", 0) + max(0, len(history) - MAX_RUN_HISTORY)
    return {
        **_day_fields(day),
        "complete": run.complete,
        "status": EXPORTED,
        "totalEvents": run.events,
        "skippedLines": sum(run.skipped.values()),
        "skippedByReason": {reason: run.skipped.get(reason, 0) for reason in SKIP_REASONS},
        "duplicates": run.duplicates,
        "parts": [part.to_manifest() for part in sorted(run.parts, key=lambda part: part.hour)],
        "runs": history[-MAX_RUN_HISTORY:],
        "runsOmitted": omitted,
    }


def in_progress_manifest(day: date, run: RunRecord, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The day's manifest while `run` rewrites its parts: not complete, no counts, no checksums.

    The parts are then a mix of two runs. A run that fails leaves this in place, naming itself, until
    a later run of the day finishes; the history keeps the finished runs only.
    """
    previous = previous or {}
    return {
        **_day_fields(day),
        "complete": False,
        "status": EXPORTING,
        "exportingRun": {"runId": run.run_id, "trigger": run.trigger, "startedAt": iso(run.started_at)},
        "totalEvents": None,
        "skippedLines": None,
        "skippedByReason": None,
        "duplicates": None,
        "parts": [],
        "runs": previous.get("runs", []),
        "runsOmitted": previous.get("runsOmitted", 0),
    }
