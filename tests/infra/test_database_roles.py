"""Each service logs in to PostgreSQL as its own role; only the roles function holds the master's login."""

from __future__ import annotations

import json

from aws_cdk import Validations

from stacks.config import DATABASE_NAME, RDS_CA_BUNDLE_PATH, RDS_CA_BUNDLE_URL
from stacks.database_roles import VPC_NETWORK_INTERFACE_ACTIONS, role_name, service_tables

from .helpers import actions, logical_id, only, resources, resources_of, statements

DATABASE_SERVICES = ("users", "orders", "catalog")


def _secret_reads(template) -> list[tuple[str, str]]:
    """(policy's logical id, secret reference as JSON) for every GetSecretValue grant."""
    return [(lid, json.dumps(target)) for lid, statement in statements(template)
            if "secretsmanager:GetSecretValue" in actions(statement) for target in resources_of(statement)]


def test_only_the_roles_function_reads_the_master_login(shop, templates, config):
    roles = shop[config.name].data.service_roles
    master = logical_id(shop[config.name].data.db_instance.secret)
    readers = {
        (part, lid)
        for (env, part), template in templates.items()
        if env == config.name
        for lid, target in _secret_reads(template)
        if master in target
    }
    assert readers == {("Data", logical_id(roles.function.role.node.find_child("DefaultPolicy")))}


def test_each_task_gets_its_own_login_and_no_other(shop, services, config):
    data = shop[config.name].data
    secret_ids = {name: logical_id(secret) for name, secret in data.db_secrets.items()}
    for spec_name, secret_id in secret_ids.items():
        definition = only(
            {
                lid: r for lid, r in resources(services, "AWS::ECS::TaskDefinition").items()
                if r["Properties"]["Family"] == f"sweetdream-{config.name}-{spec_name}"
            }
        )
        container = only(definition["Properties"]["ContainerDefinitions"])
        text = json.dumps(container["Secrets"])
        assert secret_id in text
        assert not any(other in text for name, other in secret_ids.items() if name != spec_name)
        assert logical_id(data.db_instance.secret) not in text


def test_one_login_per_service_with_tables_named_after_it(data, config):
    secrets = {
        secret["Properties"]["Name"]: secret["Properties"]
        for secret in resources(data, "AWS::SecretsManager::Secret").values()
    }
    for service in DATABASE_SERVICES:
        template = json.dumps(secrets[f"sweetdream/{config.name}/{service}/database"]["GenerateSecretString"])
        assert f'\\"username\\":\\"{role_name(service)}\\"' in template
        assert f'\\"dbname\\":\\"{DATABASE_NAME}\\"' in template
    attachments = resources(data, "AWS::SecretsManager::SecretTargetAttachment")
    assert len(attachments) == 1 + len(DATABASE_SERVICES)  # the master's and one per service


def test_the_resource_carries_the_functions_settings_so_a_change_runs_it_again(shop, data):
    function = only(
        {lid: r for lid, r in resources(data, "AWS::Lambda::Function").items() if "ServiceRoles" in lid
         and "Provider" not in lid}
    )
    settings = function["Properties"]["Environment"]["Variables"]
    custom = only(resources(data, "Custom::SweetDreamServiceRoles"))["Properties"]

    assert {key: value for key, value in custom.items() if key != "ServiceToken"} == settings
    assert settings["DATABASE"] == DATABASE_NAME
    listed = json.loads("".join(part for part in settings["SERVICES"]["Fn::Join"][1] if isinstance(part, str))
                        .replace('"SecretArn":""', '"SecretArn":null'))
    assert [(s["Name"], s["Tables"]) for s in listed] == [(n, service_tables(n)) for n in DATABASE_SERVICES]


def test_the_function_sits_in_private_subnets_and_reaches_postgres_and_https_only(shop, data, config):
    roles = shop[config.name].data.service_roles
    group = logical_id(roles.security_group)
    function = resources(data, "AWS::Lambda::Function")[logical_id(roles.function)]["Properties"]
    assert function["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}]
    assert "privateSubnet" in json.dumps(function["VpcConfig"]["SubnetIds"])

    egress = resources(data, "AWS::EC2::SecurityGroup")[group]["Properties"]["SecurityGroupEgress"]
    assert [(rule.get("CidrIp"), rule["FromPort"]) for rule in egress] == [("0.0.0.0/0", 443)]
    database_group = logical_id(shop[config.name].data.db_security_group)
    to_database = [
        rule["Properties"] for rule in resources(data, "AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    ]
    assert [(r["DestinationSecurityGroupId"], r["FromPort"]) for r in to_database] == [
        ({"Fn::GetAtt": [database_group, "GroupId"]},
         {"Fn::GetAtt": [logical_id(shop[config.name].data.db_instance), "Endpoint.Port"]})
    ]
    assert any(
        rule["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": [group, "GroupId"]}
        and rule["Properties"]["GroupId"] == {"Fn::GetAtt": [database_group, "GroupId"]}
        for rule in resources(data, "AWS::EC2::SecurityGroupIngress").values()
    )


def test_the_master_login_rotates_every_30_days_and_the_services_logins_never(shop, data, config):
    master = logical_id(shop[config.name].data.db_instance.secret)
    schedule = only(resources(data, "AWS::SecretsManager::RotationSchedule"))["Properties"]
    assert schedule["SecretId"] == {"Ref": master}
    assert schedule["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}


def test_the_first_rotation_waits_for_the_service_roles(shop, data, config):
    """A schedule starts rotating as soon as it exists: on a new stack it must not race the roles
    function's master login (which also falls back to the pending password: test_handler.py)."""
    [schedule] = resources(data, "AWS::SecretsManager::RotationSchedule").values()
    roles = logical_id(shop[config.name].data.service_roles.resource)
    assert roles in schedule.get("DependsOn", [])


def test_the_rotation_function_reaches_postgres_and_https_only_and_its_logs_expire(shop, data, config):
    database = shop[config.name].data.database
    group = resources(data, "AWS::EC2::SecurityGroup")[logical_id(database.rotation_security_group)]
    egress = group["Properties"]["SecurityGroupEgress"]
    assert [(rule["CidrIp"], rule["FromPort"]) for rule in egress] == [("0.0.0.0/0", 443)]

    application = only(resources(data, "AWS::Serverless::Application"))
    function_name = application["Properties"]["Parameters"]["functionName"]
    logs = [group["Properties"] for group in resources(data, "AWS::Logs::LogGroup").values()
            if group["Properties"].get("LogGroupName") == f"/aws/lambda/{function_name}"]
    assert only(logs)["RetentionInDays"] == config.log_retention_days


def test_every_login_verifies_the_databases_certificate(shop, data, services, config):
    roles_function = shop[config.name].data.service_roles.function
    function = resources(data, "AWS::Lambda::Function")[logical_id(roles_function)]
    assert function["Properties"]["Environment"]["Variables"]["DATABASE_CA_URL"] == RDS_CA_BUNDLE_URL
    for definition in resources(services, "AWS::ECS::TaskDefinition").values():
        (container,) = definition["Properties"]["ContainerDefinitions"]
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        if container["Name"] in DATABASE_SERVICES:
            assert (environment["DB_SSLMODE"], environment["DB_SSLROOTCERT"]) == (
                "verify-full", RDS_CA_BUNDLE_PATH)
        else:
            assert "DB_SSLMODE" not in environment


def test_no_function_of_the_data_stack_may_write_every_log_group(data):
    # AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole allow logs:* actions on `*`:
    # the services' log groups too, whose user_action lines the analytics export reads.
    for role in resources(data, "AWS::IAM::Role").values():
        assert "AWSLambda" not in json.dumps(role["Properties"].get("ManagedPolicyArns", []))
    log_writes = [(lid, statement) for lid, statement in statements(data)
                  if any(action.startswith("logs:") for action in actions(statement))]
    assert log_writes
    for lid, statement in log_writes:
        assert "*" not in resources_of(statement), lid


def test_the_roles_function_gets_only_the_network_interface_actions_on_any_resource(shop, data, config):
    role = logical_id(shop[config.name].data.service_roles.function.role)
    policies = {lid for lid, policy in resources(data, "AWS::IAM::Policy").items()
                if {"Ref": role} in policy["Properties"]["Roles"]}
    everywhere = [statement for lid, statement in statements(data)
                  if lid in policies and "*" in resources_of(statement)]
    assert [sorted(actions(statement)) for statement in everywhere] == [sorted(VPC_NETWORK_INTERFACE_ACTIONS)]


def _acknowledged(construct, rule: str) -> str:
    return next(entry.data[rule] for entry in construct.node.metadata
                if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY and rule in entry.data)


def test_the_database_port_acknowledgement_names_everything_its_security_group_admits(shop, templates):
    dev = shop["dev"]
    assert dev.bastion is not None
    group = logical_id(dev.data.database.security_group)
    sources = {json.dumps(rule["Properties"]["SourceSecurityGroupId"])
               for part in ("Data", "Services", "Bastion")
               for rule in resources(templates["dev", part], "AWS::EC2::SecurityGroupIngress").values()
               if group in json.dumps(rule["Properties"]["GroupId"])}
    peers = ("users", "orders", "catalog", "database-roles function", "rotation function", "bastion")
    assert len(sources) == len(peers)
    reason = _acknowledged(dev.data.db_instance, "AwsSolutions::AwsSolutions-RDS11")
    for peer in peers:
        assert peer in reason
