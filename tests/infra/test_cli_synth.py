"""`npx cdk synth --all`, exactly as a platform engineer runs it: offline, with no AWS credentials
anywhere (no variables, no ~/.aws), through the pinned CLI on Node 22 and the cdk-nag gate.
The run starts with the test session (conftest `cli_synth_started`) and overlaps the in-process synth."""

from __future__ import annotations

import json
import subprocess

import pytest

from stacks.container_image import REPO_ROOT

STACKS = {f"SweetDream-{env}-{part}" for env in ("Dev", "Prod") for part in ("Network", "Data", "Services")}
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def cli_synth(cli_synth_started, shop):  # `shop` synthesizes in process meanwhile
    process, outdir, log = cli_synth_started
    process.wait(timeout=600)
    log.seek(0)
    return subprocess.CompletedProcess(process.args, process.returncode, log.read(), ""), outdir


def test_npx_cdk_synth_all_succeeds_offline_without_credentials(cli_synth):
    result, outdir = cli_synth
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert stacks >= STACKS
    for name in STACKS:
        assert (outdir / f"{name}.template.json").exists()


def test_cli_synth_runs_the_nag_gate_with_no_findings(cli_synth):
    _, outdir = cli_synth
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [
        violation for plugin in report.get("pluginReports", []) for violation in plugin.get("violations", [])
    ] == []


def test_cli_uses_node_22_and_the_pinned_cli():
    node = subprocess.run([str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    assert node.stdout.startswith("v22.")
    package = json.loads((REPO_ROOT / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"].startswith("2.1148.")
    assert package["devDependencies"]["node"].startswith("22.")
