"""The pull-request diff report, on output captured from the pinned CDK CLI (aws-cdk 2.1148)."""

from pathlib import Path

import pytest

from tests.ci.conftest import load_script

report = load_script("cdk_diff_report")
DATA = Path(__file__).parent / "data"


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_replacements_and_removals_are_flagged_worst_first():
    diff = report.parse_diff(sample("diff-replace-destroy.txt"))
    assert [(r.logical_id, r.impact) for r in diff.flagged] == [
        ("Gone1B02B07C", "destroy"),
        ("Queue4A7E3555", "replace"),
        ("Table", "replace"),
        ("DoomedF679BB9F", "orphan"),
    ]
    gone = diff.flagged[0]
    assert (gone.stack, gone.resource_type, gone.construct_path) == (
        "SweetDream-Dev-App", "AWS::SQS::Queue", "Gone")


def test_counts_resources_but_not_property_lines():
    [stack] = report.parse_diff(sample("diff-replace-destroy.txt")).stacks
    # The `[-]`/`[+]` lines inside property diffs (q1 → q2, the JSON hunks) are not resources.
    assert (stack.name, stack.added, stack.updated, stack.removed) == ("SweetDream-Dev-App", 1, 3, 2)


def test_may_be_replaced_is_flagged():
    diff = report.parse_diff(sample("diff-may-replace.txt"))
    assert [(r.resource_type, r.impact) for r in diff.flagged] == [
        ("AWS::RDS::DBInstance", "may be replaced")]


def test_colored_output_parses_like_plain_output():
    plain = report.parse_diff(sample("diff-replace-destroy.txt"))
    colored = report.parse_diff(sample("diff-color.txt"))
    assert colored.flagged == plain.flagged
    assert [(s.added, s.updated, s.removed) for s in colored.stacks] == [(1, 3, 2)]


def test_iam_and_security_group_tables_are_not_resources():
    diff = report.parse_diff(sample("diff-iam-and-security-groups.txt"))
    [stack] = diff.stacks
    assert diff.flagged == []
    assert (stack.added, stack.updated, stack.removed, stack.security_changes) == (3, 0, 0, True)


def test_no_differences():
    diff = report.parse_diff(sample("diff-no-changes.txt"))
    assert [(s.name, s.changed) for s in diff.stacks] == [("SweetDream-Dev-Db", False)]
    assert diff.flagged == []


def test_several_stacks_in_one_run_keep_their_own_findings():
    combined = "".join(sample(name) for name in (
        "diff-no-changes.txt", "diff-replace-destroy.txt", "diff-may-replace.txt"))
    diff = report.parse_diff(combined)
    assert [s.name for s in diff.changed_stacks] == ["SweetDream-Dev-App", "SweetDream-Dev-Db"]
    assert {r.stack for r in diff.flagged if r.impact == "may be replaced"} == {"SweetDream-Dev-Db"}


def test_report_starts_with_marker_and_summarises_each_environment():
    text = report.render_report([
        report.EnvironmentDiff("dev", sample("diff-replace-destroy.txt"), 0),
        report.EnvironmentDiff("prod", sample("diff-no-changes.txt"), 0),
    ], title="Infrastructure diff", marker="<!-- sweetdream-cdk-diff -->", context_line="Commit abc1234")
    assert text.startswith("<!-- sweetdream-cdk-diff -->\n## Infrastructure diff\n\nCommit abc1234\n")
    assert "| dev | ⚠️ review | 1 of 1 | 1 / 3 / 2 | **4** | none |" in text
    assert "| prod | no changes | 0 of 1 | 0 / 0 / 0 | none | none |" in text
    assert "### dev: resources that would be replaced or removed" in text
    assert "| SweetDream-Dev-App | `Gone` (`Gone1B02B07C`) | `AWS::SQS::Queue` | **⛔ destroyed** |" in text
    assert "### prod" not in text
    assert "<details><summary>dev: full diff</summary>" in text


def test_failed_diff_is_reported_with_its_output():
    text = report.render_report([report.EnvironmentDiff(
        "prod", "Could not assume role arn:aws:iam::123456789012:role/cdk-hnb659fds-lookup-role", 1)],
        title="Infrastructure diff")
    assert "| prod | ❌ `cdk diff` failed (exit 1) |" in text
    assert "<details><summary>prod: error output</summary>" in text
    assert "Could not assume role" in text


def test_huge_diff_stays_under_the_comment_limit_and_keeps_the_flags():
    huge = sample("diff-replace-destroy.txt") + "\n".join(f"   filler line {i}" for i in range(50_000))
    text = report.render_report([report.EnvironmentDiff("dev", huge, 0),
                                 report.EnvironmentDiff("prod", huge, 0)], title="Infrastructure diff")
    assert len(text) < report.COMMENT_LIMIT
    assert text.count("**⛔ destroyed**") == 2
    assert "more lines in the workflow log" in text


def test_backticks_in_output_cannot_close_the_code_block():
    text = report.render_report([report.EnvironmentDiff("dev", "Stack A\n```\n# injected\n", 1)],
                                title="Infrastructure diff")
    assert "````\nStack A\n```\n# injected\n````" in text


def test_command_line(tmp_path, capsys):
    assert report.main(["--env", "dev", str(DATA / "diff-replace-destroy.txt"), "0",
                        "--env", "prod", str(tmp_path / "missing.txt"), "1",
                        "--marker", "<!-- m -->"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- m -->\n## Infrastructure diff")
    assert "| prod | ❌ `cdk diff` failed (exit 1)" in out


@pytest.mark.parametrize("exit_code", ["x", ""])
def test_command_line_rejects_a_non_numeric_exit_code(exit_code, capsys):
    with pytest.raises(SystemExit) as exited:
        report.main(["--env", "dev", "f.txt", exit_code])
    assert exited.value.code == 2
    assert "EXIT_CODE of dev must be an integer" in capsys.readouterr().err


def test_diff_of_this_app_flags_the_database_replacement():
    # Captured from `cdk diff --template` on SweetDream-Dev-Data with the deployed template's DBName
    # changed and an extra queue in it.
    diff = report.parse_diff(sample("diff-sweetdream-dev-data.txt"))
    assert [(r.construct_path, r.logical_id, r.impact) for r in diff.flagged] == [
        ("LegacyQueue", "LegacyQueue", "destroy"),
        ("Database/Instance", "DatabaseInstanceAA8A5FDE", "replace"),
    ]


def test_output_without_any_stack_is_not_reported_as_no_changes():
    # e.g. the CLI refusing the stack selection but exiting 0.
    text = report.render_report([report.EnvironmentDiff(
        "dev", "Including dependency stacks: SweetDream-Dev-Network\n", 0)], title="Infrastructure diff")
    assert "| dev | ❌ no stack in the `cdk diff` output |" in text
    assert "no changes" not in text


def test_an_environment_left_out_of_the_synth_is_named_with_its_reason(tmp_path, capsys):
    assert report.main(["--env", "dev", str(DATA / "diff-no-changes.txt"), "0",
                        "--left-out", "prod", "prod serves HTTPS: set context sweetdream:prod:certificateArn",
                        "--env", "CI roles", str(DATA / "diff-no-changes.txt"), "0"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(" | ")[0] for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["| environment", "| dev", "| prod", "| CI roles"]  # in the order given
    assert ("| prod | ⏭️ not diffed: left out of the synth: prod serves HTTPS: set context "
            "sweetdream:prod:certificateArn | – | – | – | – |") in out
    assert "prod: " not in out  # no collapsed diff for it


def test_left_out_reason_cannot_break_the_table():
    text = report.render_report([report.EnvironmentDiff("prod", "", 0, left_out="a | b\nc")],
                                title="Infrastructure diff")
    assert "left out of the synth: a \\| b c |" in text


def test_command_line_needs_an_environment(capsys):
    with pytest.raises(SystemExit):
        report.main(["--title", "x"])
    assert "give at least one --env or --left-out" in capsys.readouterr().err
