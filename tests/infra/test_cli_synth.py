"""`npx cdk synth`, exactly as a platform engineer runs it: offline, with no AWS credentials
anywhere (no variables, no ~/.aws), through the pinned CLI on Node 22 and the cdk-nag gate.
The run starts with the test session (conftest `cli_synth_started`) and overlaps the in-process synth."""

from __future__ import annotations

import json
import subprocess

import pytest

from stacks.config import ACCOUNT_CONTEXT_KEY
from stacks.container_image import REPO_ROOT

from .conftest import ACCOUNT, start_cli_synth

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


@pytest.fixture(scope="module")
def synth_with_account_per_environment(tmp_path_factory):
    """`npx cdk synth 'SweetDream-<Env>-*'` with the account known (as with credentials) and the
    shipped example certificate, which belongs to another account: both selections, side by side."""
    runs = {}
    for env in ("Dev", "Prod"):
        home = tmp_path_factory.mktemp(f"home-{env}")
        outdir = tmp_path_factory.mktemp(f"cli-{env}.out")
        process, log = start_cli_synth(
            home, outdir, "-c", f"{ACCOUNT_CONTEXT_KEY}={ACCOUNT}", f"SweetDream-{env}-*"
        )
        runs[env] = (process, log, outdir)
    results = {}
    for env, (process, log, outdir) in runs.items():
        process.wait(timeout=600)
        log.seek(0)
        results[env] = (process.returncode, log.read(), outdir)
        log.close()
    return results


def test_prod_certificate_of_another_account_blocks_only_prod(synth_with_account_per_environment):
    """An account with no prod certificate yet can still synthesize (so diff and deploy) dev."""
    code, output, outdir = synth_with_account_per_environment["Dev"]
    assert code == 0, output[-4000:]
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert {name for name in STACKS if name.startswith("SweetDream-Dev-")} <= set(manifest["artifacts"])
    assert not [name for name in manifest["artifacts"] if name.startswith("SweetDream-Prod-")]

    code, output, _ = synth_with_account_per_environment["Prod"]
    assert code != 0
    assert "certificate of account 111122223333, but prod deploys to account " + ACCOUNT in output
    assert "No stacks match the name(s) SweetDream-Prod-*" in output


def test_cli_uses_node_22_and_the_pinned_cli():
    node = subprocess.run([str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    assert node.stdout.startswith("v22.")
    package = json.loads((REPO_ROOT / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"].startswith("2.1148.")
    assert package["devDependencies"]["node"].startswith("22.")
