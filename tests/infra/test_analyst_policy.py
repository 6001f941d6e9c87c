"""The managed policy an admin attaches to analysts: Athena in the environment's workgroup, the export
table, the export read-only and the workgroup's results; nothing else."""

from __future__ import annotations

from stacks.analytics import ANALYST_ATHENA_ACTIONS, ANALYST_RESULTS_ACTIONS

from .conftest import ACCOUNT
from .helpers import actions, logical_id, only, resources_of


def _policy(services, config) -> dict:
    policies = services.find_resources(
        "AWS::IAM::ManagedPolicy", {"Properties": {"ManagedPolicyName": f"SweetDream-{config.name}-analyst"}}
    )
    return only(policies)["Properties"]


def _arn(config, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{config.region}:{ACCOUNT}:{resource}"


def _bucket(config, objects: str = "") -> str:
    return f"arn:aws:s3:::sweetdream-{config.name}-analytics-{ACCOUNT}{objects}"


def test_policy_grants_exactly_the_query_path(services, config):
    statements = {s["Sid"]: s for s in _policy(services, config)["PolicyDocument"]["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    database = f"sweetdream_{config.name}_analytics"
    assert sorted(actions(statements["QueryInTheWorkgroup"])) == sorted(ANALYST_ATHENA_ACTIONS)
    assert resources_of(statements["QueryInTheWorkgroup"]) == [
        _arn(config, "athena", f"workgroup/sweetdream-{config.name}-analytics")]
    assert sorted(actions(statements["ReadTheTable"])) == [
        "glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable"]
    assert resources_of(statements["ReadTheTable"]) == [
        _arn(config, "glue", "catalog"), _arn(config, "glue", f"database/{database}"),
        _arn(config, "glue", f"table/{database}/user_actions")]
    assert actions(statements["LocateTheBucket"]) == ["s3:GetBucketLocation"]
    assert resources_of(statements["LocateTheBucket"]) == [_bucket(config)]
    listing = statements["ListTheExportAndResults"]
    assert (actions(listing), resources_of(listing)) == (["s3:ListBucket"], [_bucket(config)])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["user-actions/*", "athena-results/*"]}}
    assert actions(statements["ReadTheExport"]) == ["s3:GetObject"]  # read-only: no put, no delete
    assert resources_of(statements["ReadTheExport"]) == [_bucket(config, "/user-actions/*")]
    assert sorted(actions(statements["WriteAndReadResults"])) == sorted(ANALYST_RESULTS_ACTIONS)
    assert resources_of(statements["WriteAndReadResults"]) == [_bucket(config, "/athena-results/*")]
    assert set(statements) == {"QueryInTheWorkgroup", "ReadTheTable", "LocateTheBucket",
                               "ListTheExportAndResults", "ReadTheExport", "WriteAndReadResults"}
    assert not any(a.endswith("*") or ":Delete" in a for s in statements.values() for a in actions(s))


def test_policy_is_attached_to_nobody_and_its_arn_is_an_output(shop, services, config):
    policy = _policy(services, config)
    assert not {"Roles", "Users", "Groups"} & set(policy)  # an admin attaches it to analysts
    analytics = shop[config.name].services.analytics
    output = services.find_outputs("AnalystPolicyArn")["AnalystPolicyArn"]
    assert output["Value"] == {"Ref": logical_id(analytics.analyst_policy.node.default_child)}
