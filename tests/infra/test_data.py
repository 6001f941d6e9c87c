"""Stateful stack: RDS, buckets, the token-signing key, secrets; termination protection in prod."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from .conftest import ACCOUNT
from .helpers import logical_id, only, properties


def test_rds_per_environment(data, config):
    instance = only(properties(data, "AWS::RDS::DBInstance"))
    expected = {"dev": (False, False, 7, "db.t4g.micro"), "prod": (True, True, 30, "db.t4g.medium")}
    multi_az, deletion_protection, backup_days, instance_class = expected[config.name]
    assert instance["MultiAZ"] is multi_az
    assert instance["DeletionProtection"] is deletion_protection
    assert instance["BackupRetentionPeriod"] == backup_days
    assert instance["DBInstanceClass"] == instance_class
    assert instance["StorageEncrypted"] is True
    assert instance["PubliclyAccessible"] is False
    assert instance["Engine"] == "postgres"
    assert instance["DBName"] == "sweetdream"


def test_rds_lives_in_the_isolated_subnets(data):
    group = only(properties(data, "AWS::RDS::DBSubnetGroup"))
    assert all("isolatedSubnet" in str(subnet) for subnet in group["SubnetIds"])
    assert len(group["SubnetIds"]) == 2


def test_rds_credentials_are_generated_in_secrets_manager(data, config):
    data.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": f"sweetdream/{config.name}/database",
            "GenerateSecretString": Match.object_like(
                {"GenerateStringKey": "password", "SecretStringTemplate": '{"username":"sweetdream"}'}
            ),
        },
    )
    data.has_resource_properties(
        "AWS::SecretsManager::SecretTargetAttachment", {"TargetType": "AWS::RDS::DBInstance"}
    )
    instance = only(properties(data, "AWS::RDS::DBInstance"))
    assert "resolve:secretsmanager" in str(instance["MasterUserPassword"])


def test_rds_requires_tls_and_keeps_a_snapshot_on_delete(data):
    data.has_resource_properties(
        "AWS::RDS::DBParameterGroup", {"Parameters": Match.object_like({"rds.force_ssl": "1"})}
    )
    (instance,) = data.find_resources("AWS::RDS::DBInstance").values()
    assert instance["DeletionPolicy"] == "Snapshot"


def test_analytics_bucket(data, config):
    data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": f"sweetdream-{config.name}-analytics-{ACCOUNT}",
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Status": "Enabled",
                                "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}],
                            }
                        )
                    ]
                )
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "s3-access/analytics/"}),
        },
    )


def test_athena_query_results_expire_after_30_days_leaving_no_delete_markers(data, config):
    data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": f"sweetdream-{config.name}-analytics-{ACCOUNT}",
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        {
                            "Id": "expire-athena-results",
                            "Status": "Enabled",
                            "Prefix": "athena-results/",
                            "ExpirationInDays": 30,
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                        },
                        {
                            "Id": "remove-athena-delete-markers",
                            "Status": "Enabled",
                            "Prefix": "athena-results/",
                            "ExpiredObjectDeleteMarker": True,
                        },
                    ]
                )
            },
        },
    )


def test_only_athena_results_ever_expire_never_the_exported_partitions(data, config):
    name = f"sweetdream-{config.name}-analytics-{ACCOUNT}"
    bucket = only(b for b in properties(data, "AWS::S3::Bucket") if b.get("BucketName") == name)
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "ExpirationInDays" in rule or "ExpiredObjectDeleteMarker" in rule]
    assert [rule.get("Prefix") for rule in expiring] == ["athena-results/", "athena-results/"]


def test_every_bucket_enforces_ssl_and_blocks_public_access(data):
    buckets = data.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
        assert bucket["DeletionPolicy"] == "Retain"
    policies = properties(data, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies:
        assert any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policy["PolicyDocument"]["Statement"]
        )


def test_token_signing_key(data, config):
    data.has_resource_properties("AWS::KMS::Key", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
    data.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": f"alias/sweetdream/{config.name}/token-signing"}
    )


def test_application_secrets_are_generated(data, config):
    for name in (
        "admin-password",
        "users/secret-key",
        "orders/secret-key",
        "catalog/secret-key",
        "storefront/secret-key",
    ):
        data.has_resource_properties(
            "AWS::SecretsManager::Secret",
            {
                "Name": f"sweetdream/{config.name}/{name}",
                "GenerateSecretString": Match.object_like({"PasswordLength": Match.any_value()}),
            },
        )


def test_stack_names_and_termination_protection(shop, config):
    environment = shop[config.name]
    stacks = [environment.network, environment.data, environment.services]
    prefix = {"dev": "SweetDream-Dev", "prod": "SweetDream-Prod"}[config.name]
    assert [stack.stack_name for stack in stacks] == [
        f"{prefix}-Network",
        f"{prefix}-Data",
        f"{prefix}-Services",
    ]
    assert all(stack.termination_protection is (config.name == "prod") for stack in stacks)
    assert all(stack.region == config.region for stack in stacks)


def test_stateful_resources_only_in_the_data_stack(templates, config):
    stateful = ("AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SecretsManager::Secret")
    for resource_type in stateful:
        assert templates[config.name, "Data"].find_resources(resource_type)
    # The services stack may only hold the alerts topic's key (no data is encrypted with it).
    for resource_type in ("AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        assert templates[config.name, "Services"].find_resources(resource_type) == {}
        assert templates[config.name, "Network"].find_resources(resource_type) == {}


def test_outputs(templates, config):
    templates[config.name, "Data"].has_output(
        "AnalyticsBucketName", {"Value": {"Ref": Match.string_like_regexp("Analytics")}}
    )
    (instance,) = templates[config.name, "Data"].find_resources("AWS::RDS::DBInstance")
    templates[config.name, "Data"].has_output(
        "DatabaseEndpoint", {"Value": {"Fn::GetAtt": [instance, "Endpoint.Address"]}}
    )
    services = templates[config.name, "Services"]
    services.has_output("ShopUrl", {})
    services.has_output(
        "DashboardUrl",
        {
            "Value": Match.string_like_regexp(
                f"https://{config.region}.console.aws.amazon.com/cloudwatch/home.*#dashboards:name=SweetDream-{config.name}"
            )
        },
    )
    if config.https:
        services.has_output("ShopUrl", {"Value": f"https://{config.domain_name}"})


def test_the_signing_key_refuses_every_signer_but_the_users_task(templates, shop, config):
    """Its default policy lets IAM grant use of the key, so kms:Sign on "*" anywhere in the account
    could mint tokens; the key's own Deny leaves the users task role the only signer."""
    [key] = templates[config.name, "Data"].find_resources("AWS::KMS::Key").values()
    [deny] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    assert (deny["Action"], deny["Principal"]) == ("kms:Sign", {"AWS": "*"})
    signer = json.dumps(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    users_role = shop[config.name].services.services["users"].task_definition.task_role
    role_name = templates[config.name, "Services"].find_resources("AWS::IAM::Role")[
        logical_id(users_role)]["Properties"]["RoleName"]
    assert role_name == config.task_role_name("users")
    assert signer == json.dumps(f"arn:aws:iam::{ACCOUNT}:role/{role_name}")
