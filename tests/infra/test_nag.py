"""The cdk-nag AwsSolutions gate: on for every synth, failing on any unacknowledged finding."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks


def test_both_environments_pass_with_zero_unacknowledged_findings(shop, cdk_outdir):
    # `shop` synthesized with the gate on; a finding would have raised there. The report agrees.
    report = json.loads((cdk_outdir / "validation-report.json").read_text())
    violations = [
        violation for plugin in report.get("pluginReports", []) for violation in plugin.get("violations", [])
    ]
    assert violations == []


def test_the_gate_fails_synth_on_an_unacknowledged_finding(tmp_path):
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    s3.Bucket(Stack(app, "Careless"), "Bucket")  # no SSL enforcement, no access logs
    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        app.synth()


def _acknowledgements(shop) -> dict[str, str]:
    found = {}
    for environment in shop.values():
        for stack in (environment.network, environment.data, environment.services):
            for construct in stack.node.find_all():
                for entry in construct.node.metadata:
                    if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                        for rule, reason in entry.data.items():
                            found[f"{construct.node.path} {rule}"] = reason
    return found


def test_every_acknowledgement_names_a_rule_and_gives_a_specific_reason(shop):
    acknowledgements = _acknowledgements(shop)
    assert len(acknowledgements) > 20
    for where, reason in acknowledgements.items():
        rule = where.split(" ", 1)[1]
        assert rule.startswith(
            ("AwsSolutions::AwsSolutions-", "Annotation::@aws-cdk/", "CloudFormation-Validate::")
        ), where
        assert len(reason) >= 50, f"{where}: reason too thin: {reason!r}"
        assert not any(word in reason.lower() for word in ("todo", "fixme", "tbd", "temporary")), where


def test_no_blanket_acknowledgements_on_stacks(shop):
    # Acknowledgements sit on the construct they are about, never on a whole stack or the app.
    for environment in shop.values():
        for stack in (environment.network, environment.data, environment.services):
            assert not [
                entry
                for entry in stack.node.metadata
                if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            ]
