"""Turn `cdk diff` output into one Markdown report that puts replaced and removed resources first.

Used by CI (the pull-request comment) and by deploys (the job summary):

    python .github/scripts/cdk_diff_report.py --env dev diff-dev.txt 0 --env prod diff-prod.txt 0 \
        --title "Infrastructure diff" --marker "<!-- sweetdream-cdk-diff -->" > report.md

Each `--env NAME FILE EXIT_CODE` is one `cdk diff` run (its combined stdout and stderr, and its exit
code). `--left-out NAME REASON` reports an environment the synth left out (app.py prints why, e.g. no
prod certificate in this account), so it is not mistaken for one without changes. The report
stays under GitHub's 65,536-character comment limit by shortening the full diffs,
never the table of flagged resources.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

COMMENT_LIMIT = 65_536
# Impacts the CDK CLI prints at the end of a resource line, worst first.
FLAGGED_IMPACTS = {
    "destroy": "⛔ destroyed",
    "replace": "⚠️ replaced",
    "may be replaced": "⚠️ may be replaced",
    "orphan": "removed from the stack, kept in the account",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STACK = re.compile(r"^Stack (\S+)")
_RESOURCE = re.compile(r"^\[(?P<op>[-+~←])\] (?P<type>\S+::\S+) (?P<rest>.+)$")
_SECURITY_SECTIONS = ("IAM Statement Changes", "IAM Policy Changes", "Security Group Changes")
_SECTION = re.compile(r"^(Resources|Outputs|Parameters|Conditions|Mappings|Other Changes|"
                      + "|".join(_SECURITY_SECTIONS) + r")\s*$")
_NO_DIFFERENCES = "There were no differences"


@dataclass(frozen=True)
class FlaggedResource:
    stack: str
    resource_type: str
    logical_id: str
    construct_path: str
    impact: str


@dataclass
class StackDiff:
    name: str
    changed: bool = False
    added: int = 0
    updated: int = 0
    removed: int = 0
    security_changes: bool = False


@dataclass
class DiffResult:
    stacks: list[StackDiff] = field(default_factory=list)
    flagged: list[FlaggedResource] = field(default_factory=list)

    @property
    def changed_stacks(self) -> list[StackDiff]:
        return [s for s in self.stacks if s.changed]


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_diff(text: str) -> DiffResult:
    """Stacks, resource counts and the resources that would be replaced or removed."""
    result = DiffResult()
    stack: StackDiff | None = None
    section = ""
    for line in strip_ansi(text).splitlines():
        line = line.rstrip()
        if match := _STACK.match(line):
            stack = StackDiff(match.group(1))
            result.stacks.append(stack)
            section = ""
            continue
        if stack is None:
            continue
        if match := _SECTION.match(line):
            section = match.group(1)
            stack.changed = True
            stack.security_changes |= section in _SECURITY_SECTIONS
            continue
        if line.startswith(_NO_DIFFERENCES):
            continue
        if section != "Resources" or not (match := _RESOURCE.match(line)):
            continue
        op, rest = match.group("op"), match.group("rest")
        impact = next((i for i in FLAGGED_IMPACTS if rest.endswith(" " + i)), "")
        if impact:
            rest = rest[: -len(impact) - 1]
        path, _, logical_id = rest.rpartition(" ")
        if op == "+":
            stack.added += 1
        elif op == "-":
            stack.removed += 1
        else:
            stack.updated += 1
        if impact:
            result.flagged.append(FlaggedResource(stack.name, match.group("type"), logical_id,
                                                  path or logical_id, impact))
    severity = list(FLAGGED_IMPACTS)
    result.flagged.sort(key=lambda r: severity.index(r.impact))
    return result


@dataclass(frozen=True)
class EnvironmentDiff:
    name: str
    output: str
    exit_code: int
    left_out: str = ""  # why the synth made none of its stacks; then there was no diff to run

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 and not self.left_out


def _code_block(text: str) -> str:
    # A fence longer than any backtick run inside keeps the block closed where we mean it to be.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    lines, kept, size = text.splitlines(), [], 0
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept + [f"… {len(lines) - len(kept)} more lines in the workflow log"])


def _table_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report(environments: list[EnvironmentDiff], *, title: str, marker: str = "",
                  context_line: str = "", limit: int = COMMENT_LIMIT) -> str:
    parsed = {env.name: parse_diff(env.output) for env in environments}
    head = [marker, f"## {title}", ""] if marker else [f"## {title}", ""]
    if context_line:
        head += [context_line, ""]
    head += ["| environment | result | stacks changed | resources added / updated / removed | "
             "replaced or removed | IAM or security group changes |", "|---|---|---|---|---|---|"]
    for env in environments:
        diff = parsed[env.name]
        if env.left_out:
            head.append(f"| {env.name} | ⏭️ not diffed: left out of the synth: {_table_cell(env.left_out)} "
                        "| – | – | – | – |")
            continue
        if env.failed:
            head.append(f"| {env.name} | ❌ `cdk diff` failed (exit {env.exit_code}) | – | – | – | – |")
            continue
        changed = diff.changed_stacks
        counts = " / ".join(str(sum(getattr(s, k) for s in diff.stacks))
                            for k in ("added", "updated", "removed"))
        if not diff.stacks:
            head.append(f"| {env.name} | ❌ no stack in the `cdk diff` output | – | – | – | – |")
            continue
        flagged = f"**{len(diff.flagged)}**" if diff.flagged else "none"
        result = "⚠️ review" if diff.flagged else ("changes" if changed else "no changes")
        security = ", ".join(s.name for s in diff.stacks if s.security_changes) or "none"
        head.append(f"| {env.name} | {result} | {len(changed)} of {len(diff.stacks)} | {counts} | "
                    f"{flagged} | {security} |")
    for env in environments:
        flagged = parsed[env.name].flagged
        if not flagged or env.failed or env.left_out:
            continue
        head += ["", f"### {env.name}: resources that would be replaced or removed", "",
                 "| stack | resource | type | impact |", "|---|---|---|---|"]
        head += [f"| {_table_cell(r.stack)} | `{_table_cell(r.construct_path)}` "
                 f"(`{_table_cell(r.logical_id)}`) | `{r.resource_type}` | "
                 f"**{FLAGGED_IMPACTS[r.impact]}** |" for r in flagged]
    report = "\n".join(head)

    # What is left of the limit is shared by the full outputs, each in a collapsed section.
    sections = []
    diffed = [env for env in environments if not env.left_out]
    budget = (limit - len(report) - 200 * len(diffed)) // max(1, len(diffed))
    for env in diffed:
        body = strip_ansi(env.output).strip() or "(no output)"
        summary = f"{env.name}: {'error output' if env.failed else 'full diff'}"
        sections.append(f"<details><summary>{summary}</summary>\n\n"
                        f"{_code_block(_shorten(body, max(budget, 0)))}\n\n</details>")
    return "\n\n".join([report, *sections]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # One list for both options, so the table keeps the order they were given in.
    parser.add_argument("--env", nargs=3, action="append", dest="environments", default=[],
                        metavar=("NAME", "FILE", "EXIT_CODE"), help="one cdk diff run")
    parser.add_argument("--left-out", nargs=2, action="append", dest="environments",
                        metavar=("NAME", "REASON"), help="an environment the synth left out, and why")
    parser.add_argument("--title", default="Infrastructure diff")
    parser.add_argument("--marker", default="", help="hidden HTML comment that identifies the report")
    parser.add_argument("--context", default="", help="a line under the title (commit, run link)")
    args = parser.parse_args(argv)
    if not args.environments:
        parser.error("give at least one --env or --left-out")
    environments = []
    for entry in args.environments:
        if len(entry) == 2:
            reason = entry[1].strip() or "no reason given"
            environments.append(EnvironmentDiff(entry[0], "", 0, left_out=reason))
            continue
        name, path, exit_code = entry
        try:
            code = int(exit_code)
        except ValueError:
            parser.error(f"EXIT_CODE of {name} must be an integer, got {exit_code!r}")
        file = Path(path)
        output = file.read_text(encoding="utf-8", errors="replace") if file.exists() else ""
        environments.append(EnvironmentDiff(name, output, code))
    sys.stdout.write(render_report(environments, title=args.title, marker=args.marker,
                                   context_line=args.context))
    return 0


if __name__ == "__main__":
    sys.exit(main())
