"""Export one Vietnam-local day: 24 hour windows, each read, deduplicated, sorted and written.

The same function runs in the Lambda (CloudWatch Logs → S3), in `make analytics` (local event log
→ .data/analytics) and in the benchmark. Only one hour of events is ever held in memory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .dedupe import SKIP_REASONS, HourBatch
from .manifest import PartRecord, RunRecord, build_manifest, in_progress_manifest
from .payloads import ExportRequest
from .sinks import EncodedPart, Sink, encode_part
from .sources import EventSource
from .windows import HourWindow, day_windows


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DayExport:
    request: ExportRequest
    run: RunRecord
    manifest: dict[str, Any]
    manifest_location: str

    def response(self) -> dict[str, Any]:
        """What the Lambda returns: counts per hour and skipped lines."""
        run = self.run
        return {
            "date": self.request.day.isoformat(),
            "trigger": self.request.trigger,
            "complete": self.request.complete,
            "runId": run.run_id,
            "events": run.events,
            "skippedLines": sum(run.skipped.values()),
            "skippedByReason": {reason: run.skipped.get(reason, 0) for reason in SKIP_REASONS},
            "duplicates": run.duplicates,
            "hours": {
                f"{part.hour:02d}": {
                    "events": part.events,
                    "skippedLines": part.skipped_lines,
                    "duplicates": part.duplicates,
                    "written": part.written,
                }
                for part in run.parts
            },
            "partsWritten": sum(part.written for part in run.parts),
            "partsUnchanged": sum(not part.written for part in run.parts),
            "manifest": self.manifest_location,
        }


def windows_to_export(request: ExportRequest) -> list[HourWindow]:
    windows = day_windows(request.day)
    if request.until is not None:
        windows = [window for window in windows if window.start < request.until]
    return windows


def export_day(
    request: ExportRequest,
    *,
    source: EventSource,
    sink: Sink,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    run_id: str | None = None,
    on_hour: Callable[[HourWindow, HourBatch, EncodedPart, bool], None] | None = None,
) -> DayExport:
    started = clock()
    run = RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        trigger=request.trigger,
        source=source.describe(),
        started_at=started,
        finished_at=started,
        complete=request.complete,
    )
    for window in windows_to_export(request):
        if request.complete:
            _wait_until_searchable(window, source, clock, sleep)
        batch = HourBatch(window, margin=source.margin).add_all(source.read(window))
        part = encode_part(window.hour, batch.rows())
        written = not sink.has_part(request.day, part)
        if written:
            if not any(earlier.written for earlier in run.parts):
                # The old manifest's counts and checksums stop being true at the first changed part,
                # and stay untrue if this run fails: until the final manifest, one says so.
                previous = sink.get_manifest(request.day)
                sink.put_manifest(request.day, in_progress_manifest(request.day, run, previous))
            sink.put_part(request.day, part)
        run.parts.append(
            PartRecord(
                hour=window.hour,
                location=sink.part_location(request.day, window.hour),
                events=part.events,
                bytes=len(part.data),
                sha256=part.sha256,
                skipped_lines=batch.skipped_total,
                duplicates=batch.duplicates,
                written=written,
            )
        )
        run.skipped.update(batch.skipped)
        if on_hour is not None:
            on_hour(window, batch, part, written)
    run.finished_at = clock()
    manifest = build_manifest(request.day, run, sink.get_manifest(request.day))
    sink.put_manifest(request.day, manifest)
    return DayExport(request, run, manifest, sink.manifest_location(request.day))


def _wait_until_searchable(window: HourWindow, source: EventSource, clock, sleep) -> None:
    """The scheduled run starts at local midnight: let the last hour's events become searchable."""
    if not source.ingestion_delay:
        return
    ready_at = window.end + source.margin + source.ingestion_delay
    remaining = (ready_at - clock()).total_seconds()
    if remaining > 0:
        sleep(remaining)
