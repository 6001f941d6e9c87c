"""The day manifest's run history stays bounded however often a day is re-exported (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lambdas.analytics_export.manifest import MAX_RUN_HISTORY, RunRecord, build_manifest

DAY = date(2024, 12, 2)


def _run(number: int) -> RunRecord:
    moment = datetime(2024, 12, 2, 17, tzinfo=UTC)
    return RunRecord(run_id=f"run-{number}", trigger="test", source="local", started_at=moment,
                     finished_at=moment, complete=False)


def _export(times: int, manifest: dict | None = None) -> dict:
    for number in range(times):
        manifest = build_manifest(DAY, _run(number), manifest)
    return manifest


def test_the_history_keeps_every_run_up_to_the_cap():
    manifest = _export(MAX_RUN_HISTORY)
    assert [run["runId"] for run in manifest["runs"]] == [f"run-{n}" for n in range(MAX_RUN_HISTORY)]
    assert manifest["runsOmitted"] == 0


def test_the_history_keeps_only_the_last_runs_and_counts_the_rest():
    extra = 7
    manifest = _export(MAX_RUN_HISTORY + extra)
    assert len(manifest["runs"]) == MAX_RUN_HISTORY
    assert manifest["runs"][0]["runId"] == f"run-{extra}"
    assert manifest["runs"][-1]["runId"] == f"run-{MAX_RUN_HISTORY + extra - 1}"
    assert manifest["runsOmitted"] == extra


def test_a_manifest_from_before_the_cap_is_trimmed_on_the_next_run():
    """Days exported before the cap existed may hold more runs and no `runsOmitted`."""
    old = _export(MAX_RUN_HISTORY + 30)
    old["runs"] = [{"runId": f"old-{n}"} for n in range(MAX_RUN_HISTORY + 30)]
    del old["runsOmitted"]
    manifest = build_manifest(DAY, _run(999), old)
    assert len(manifest["runs"]) == MAX_RUN_HISTORY
    assert manifest["runs"][-1]["runId"] == "run-999" and manifest["runs"][0]["runId"] == "old-31"
    assert manifest["runsOmitted"] == 31
