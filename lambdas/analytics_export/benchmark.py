"""`make bench-analytics`: 1,000,000 synthetic events through the export core, local source and sink.

    python -m lambdas.analytics_export.benchmark [--events 1000000] [--keep DIR]

Writes one Vietnam-local day of events (1% duplicated, as a retried write would, plus a few torn
lines) to a scratch event log, then exports it in a child process and reports the child's wall
time, CPU time and peak resident memory (ru_maxrss, interpreter included). Fails if the peak
reaches the 512 MB budget or a single event goes missing. A second run checks that re-exporting
writes nothing new. A torn line cut before its timestamp cannot be dated: it is reported as
undatable instead of skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from services.kit.events import EVENT_TYPE

from .windows import local_midnight

MEMORY_BUDGET_MB = 512
BENCH_DAY = date(2025, 1, 15)
DUPLICATE_EVERY = 100  # 1% of events are logged twice
TORN_EVERY = 50_000  # a few lines cut short mid-write

_CATEGORIES = ("Birthday", "Wedding", "Mousse", "Cupcakes")
_PRODUCTS = [(n, f"Cake {n}", 150_000 + 25_000 * (n % 12), _CATEGORIES[n % 4]) for n in range(1, 17)]
_SIZES = ("12cm", "16cm", "20cm", "24cm")
_QUERIES = ("chocolate", "matcha", "dâu tây", "birthday", "tiramisu", "red velvet", "cheesecake", "xyz")


def _properties(name: str, rng: random.Random) -> dict:
    product_id, product_name, price, category = rng.choice(_PRODUCTS)
    if name == "Product Viewed":
        return {"productId": product_id, "productName": product_name, "price": price, "category": category}
    if name == "Product Search":
        return {"searchQuery": rng.choice(_QUERIES), "resultsCount": rng.randrange(0, 12)}
    if name == "Add to Cart":
        return {
            "productId": product_id,
            "quantity": rng.randrange(1, 4),
            "size": rng.choice(_SIZES),
            "price": price,
        }
    if name == "Checkout Started":
        return {"cartTotal": price * 2, "itemCount": 2}
    if name == "Order Completed":
        return {
            "orderId": rng.randrange(1, 10**6),
            "totalAmount": price + 30_000,
            "products": [
                {
                    "productId": product_id,
                    "name": product_name,
                    "size": rng.choice(_SIZES),
                    "quantity": 1,
                    "unitPrice": price,
                }
            ],
        }
    return {}


_EVENT_MIX = (
    ["Product Viewed"] * 50
    + ["Product Search"] * 15
    + ["Add to Cart"] * 15
    + ["Checkout Started"] * 8
    + ["Order Completed"] * 5
    + ["User Login"] * 5
    + ["User Registered"] * 2
)


def write_events(path: Path, count: int, seed: int = 8) -> dict[str, int]:
    """`count` distinct events spread over BENCH_DAY, written as the services would write them."""
    rng = random.Random(seed)
    start = local_midnight(BENCH_DAY)
    duplicates = torn = 0
    with path.open("w", encoding="utf-8") as log:
        for index in range(count):
            name = rng.choice(_EVENT_MIX)
            moment = start + timedelta(microseconds=rng.randrange(86_400 * 10**6))
            line = json.dumps(
                {
                    "type": EVENT_TYPE,
                    "event": name,
                    "eventId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "service": "catalog",
                    "userId": str(rng.randrange(1, 5000)),
                    "sessionId": f"s{rng.randrange(10**9)}",
                    "requestId": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "properties": _properties(name, rng),
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            log.write(line + "\n")
            if index % DUPLICATE_EVERY == 0:
                log.write(line + "\n")
                duplicates += 1
            if index % TORN_EVERY == 0:
                log.write(line[: len(line) // 2] + "\n")
                torn += 1
    return {"events": count, "duplicates": duplicates, "torn": torn}


def _export_in_this_process(log: Path, out: Path) -> None:
    from .export import export_day
    from .payloads import ExportRequest
    from .sinks import LocalDirectorySink
    from .sources import LocalEventLogSource

    started = time.perf_counter()
    with LocalEventLogSource(log) as source:
        result = export_day(
            ExportRequest(BENCH_DAY, "benchmark"), source=source, sink=LocalDirectorySink(out)
        )
        undated = source.undated
    response = result.response()
    response.pop("hours")
    response["seconds"] = round(time.perf_counter() - started, 2)
    response["cpuSeconds"] = round(time.process_time(), 2)
    response["peakMemoryMb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )  # KiB on Linux
    response["undated"] = undated
    print(json.dumps(response))


def _export_in_child(log: Path, out: Path) -> dict:
    """Run the export in a fresh interpreter, so its peak memory is the export's alone."""
    completed = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", __spec__.name, "--child", str(log), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the event log and the export in this directory")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _export_in_this_process(*args.child)
        return 0

    with tempfile.TemporaryDirectory(prefix="sweetdream-bench-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        log, out = work / "events.jsonl", work / "analytics"
        print(f"writing {args.events:,} synthetic events for {BENCH_DAY} ...", flush=True)
        written = write_events(log, args.events)
        size_mb = log.stat().st_size / 1e6
        first = _export_in_child(log, out)
        second = _export_in_child(log, out)
    peak_mb = max(first["peakMemoryMb"], second["peakMemoryMb"])

    print(
        f"event log:       {size_mb:,.0f} MB, {args.events:,} events "
        f"(+{written['duplicates']:,} duplicate lines, {written['torn']} torn lines)"
    )
    print(
        f"export:          {first['seconds']:.1f} s ({first['cpuSeconds']:.1f} s CPU), "
        f"{first['events']:,} rows in "
        f"{first['partsWritten']} parts, "
        f"{first['duplicates']:,} duplicates dropped, {first['skippedLines']} malformed lines skipped, "
        f"{first['undated']} undatable"
    )
    print(f"peak memory:     {peak_mb:,.0f} MB (budget {MEMORY_BUDGET_MB} MB)")
    print(
        f"re-run:          {second['seconds']:.1f} s ({second['cpuSeconds']:.1f} s CPU), "
        f"{second['partsUnchanged']} parts unchanged, "
        f"{second['partsWritten']} rewritten"
    )
    problems = []
    if first["events"] != args.events:
        problems.append(f"exported {first['events']:,} events, expected {args.events:,}")
    if first["skippedLines"] + first["undated"] != written["torn"]:
        problems.append(
            f"accounted for {first['skippedLines'] + first['undated']} torn lines, expected {written['torn']}"
        )
    if second["partsWritten"]:
        problems.append("the re-run rewrote parts")
    if peak_mb >= MEMORY_BUDGET_MB:
        problems.append(f"peak memory {peak_mb:.0f} MB is over the {MEMORY_BUDGET_MB} MB budget")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
