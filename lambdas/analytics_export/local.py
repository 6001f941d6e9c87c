"""`make analytics`: export the local event log into `.data/analytics/`, in the S3 layout.

    python -m lambdas.analytics_export.local [--events PATH] [--out DIR] [--date YYYY-MM-DD ...]

Without --date it exports every day the log has events for; today's export covers the hours so far.
A --date the log has no events for is refused while its export holds events, as the Lambda refuses a
day whose logs have expired: an empty export never replaces one with events.
Same core as the Lambda: per-hour parts, dedupe on eventId, byte-identical re-runs, manifests.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.kit.config import DEFAULT_DATA_DIR

from .export import export_day, utcnow, windows_to_export
from .payloads import ExportRequest, InvalidRequest, parse_day
from .sinks import LocalDirectorySink
from .sources import LocalEventLogSource
from .windows import local_date

LOCAL = "local"


def _day(value: str) -> date:
    try:
        return parse_day(value)
    except InvalidRequest as exc:  # argparse says so and exits 2, as for any bad argument
        raise argparse.ArgumentTypeError(str(exc)) from None


def _holds_events(sink: LocalDirectorySink, day: date) -> bool:
    """Whether the day's export has events, or may have (a failed run's manifest has no counts)."""
    manifest = sink.get_manifest(day)
    return manifest is not None and manifest.get("totalEvents") != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make analytics", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=Path,
        default=DEFAULT_DATA_DIR / "events.jsonl",
        help="the local event log (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_DATA_DIR / "analytics",
        help="where the user-actions/ partitions go (default: %(default)s)",
    )
    parser.add_argument(
        "--date",
        dest="dates",
        action="append",
        type=_day,
        default=[],
        help="a Vietnam-local day to export; repeatable (default: every day in the log)",
    )
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if not args.events.exists():
        console.print(f"No event log at {args.events}: run the shop (make run) and click around first.")
        return 1

    sink = LocalDirectorySink(args.out)
    now = utcnow()
    today = local_date(now)
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with LocalEventLogSource(args.events) as source, Progress(*columns, console=console) as progress:
        size = args.events.stat().st_size
        reading = progress.add_task(f"reading {args.events.name}", total=size, detail=f"{size / 1e6:.1f} MB")
        source.on_progress = lambda count: progress.advance(reading, count)
        logged = source.days
        days = sorted(set(args.dates)) or logged
        progress.update(reading, completed=size)
        kept = [day for day in days if day not in logged and _holds_events(sink, day)]
        for day in kept:
            console.print(
                # In the Lambda's words for an expired day (payloads._refuse_expired).
                f"{args.events} has no events of {day}; its existing export is kept as it is "
                f"({sink.manifest_location(day)}), and nothing was written",
                markup=False,
                soft_wrap=True,
            )
        if kept:
            return 1
        results = []
        for day in days:
            if day > today:
                console.print(f"[yellow]{day} has not started yet in Vietnam; skipped")
                continue
            request = ExportRequest(day, LOCAL, now if day == today else None)
            hours = len(windows_to_export(request))
            task = progress.add_task(f"exporting {day}", total=hours, detail=f"{hours} hours")
            results.append(
                export_day(
                    request, source=source, sink=sink, on_hour=lambda *_, task=task: progress.advance(task)
                )
            )
        undated = source.undated

    table = Table(
        "day",
        "events",
        "skipped",
        "duplicates",
        "written",
        "unchanged",
        "complete",
        title=f"user-actions under {args.out}",
    )
    for result in results:
        response = result.response()
        table.add_row(
            response["date"],
            str(response["events"]),
            str(response["skippedLines"]),
            str(response["duplicates"]),
            str(response["partsWritten"]),
            str(response["partsUnchanged"]),
            "yes" if response["complete"] else "so far",
        )
    Console().print(table)
    if undated:
        console.print(f"[yellow]{undated} line(s) had no readable timestamp and belong to no day.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
