"""Fargate services: scaling, deployment style, blue/green wiring, logs, secrets, permissions."""

from __future__ import annotations

import json
import re
from ipaddress import ip_network

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from services.kit.proxies import PRIVATE_NETWORKS, client_address
from services.manifest import SERVICES, by_name
from stacks.config import PROD, SERVICE_NAMESPACE, with_context
from stacks.container_image import has_database
from stacks.shop import add_environment

from .conftest import ACCOUNT, CERTIFICATE, cdk_json_context
from .helpers import actions, logical_id, only, properties, statements

SECRET_LOOKING = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|DATABASE_URL|DB_USER", re.I)


def _container(services_template, service: str) -> dict:
    for definition in properties(services_template, "AWS::ECS::TaskDefinition"):
        for container in definition["ContainerDefinitions"]:
            if container["Name"] == service:
                return container
    raise AssertionError(f"no container {service}")


def _environment(container: dict) -> dict:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


def test_one_service_per_manifest_entry_on_fargate(shop, services, config):
    services.resource_count_is("AWS::ECS::Service", len(SERVICES))
    for spec in SERVICES:
        services.has_resource_properties(
            "AWS::ECS::TaskDefinition",
            {
                "Family": f"sweetdream-{config.name}-{spec.name}",
                "Cpu": str(spec.cpu),
                "Memory": str(spec.memory_mib),
                "RequiresCompatibilities": ["FARGATE"],
                "NetworkMode": "awsvpc",
            },
        )
        container = _container(services, spec.name)
        assert container["PortMappings"][0]["ContainerPort"] == spec.port
        assert _environment(container)["SERVICE"] == spec.name
        assert _environment(container)["PORT"] == str(spec.port)
        assert _environment(container)["ENVIRONMENT"] == config.name
    services.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )
    for service in properties(services, "AWS::ECS::Service"):
        assert service["LaunchType"] == "FARGATE"
        network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"


def test_autoscaling_on_cpu_within_the_environment_bounds(services, config):
    targets = properties(services, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert len(targets) == len(SERVICES)
    assert {(t["MinCapacity"], t["MaxCapacity"]) for t in targets} == {(config.min_tasks, config.max_tasks)}
    assert (config.min_tasks, config.max_tasks) == {"dev": (1, 3), "prod": (2, 10)}[config.name]
    policies = properties(services, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(policies) == len(SERVICES)
    for policy in policies:
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        assert tracking["TargetValue"] == 70
        assert (
            tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
            == "ECSServiceAverageCPUUtilization"
        )
    for service in properties(services, "AWS::ECS::Service"):
        assert service["DesiredCount"] == config.min_tasks


EXPECTED_CONTROLLERS = {
    "dev": {"users": "ECS", "orders": "ECS", "catalog": "ECS", "storefront": "ECS"},
    "prod": {"users": "CODE_DEPLOY", "orders": "CODE_DEPLOY", "catalog": "ECS", "storefront": "CODE_DEPLOY"},
}


def test_deployment_controller_per_service_per_environment(shop, services, config):
    for name, service in shop[config.name].services.services.items():
        resource = services.find_resources("AWS::ECS::Service")[logical_id(service.service)]["Properties"]
        controller = resource["DeploymentController"]["Type"]
        assert controller == EXPECTED_CONTROLLERS[config.name][name]
        if controller == "ECS":
            # rolling, with the circuit breaker rolling a failed deployment back
            assert resource["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
                "Enable": True,
                "Rollback": True,
            }
            assert resource["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100
            assert resource["TaskDefinition"] == {"Ref": logical_id(service.task_definition)}
        else:
            assert "DeploymentCircuitBreaker" not in resource.get("DeploymentConfiguration", {})
            # CloudFormation must not change a CODE_DEPLOY service's task definition: family only.
            assert resource["TaskDefinition"] == f"sweetdream-{config.name}-{name}"


def test_codedeploy_blue_green_only_in_prod(shop, services, config):
    groups = services.find_resources("AWS::CodeDeploy::DeploymentGroup")
    deployments = services.find_resources("Custom::EcsDeployment")
    if not config.blue_green_services:
        assert groups == {} and deployments == {}
        return
    assert len(groups) == len(deployments) == len(config.blue_green_services) == 3
    listeners = {
        res["Properties"]["Port"]: lid
        for lid, res in services.find_resources("AWS::ElasticLoadBalancingV2::Listener").items()
    }
    for name in config.blue_green_services:
        service = shop[config.name].services.services[name]
        group = groups[logical_id(service.deployment_group)]["Properties"]
        assert group["DeploymentConfigName"] == "CodeDeployDefault.ECSCanary10Percent5Minutes"
        assert group["DeploymentStyle"] == {
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
            "DeploymentType": "BLUE_GREEN",
        }
        assert group["AutoRollbackConfiguration"]["Enabled"] is True
        assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(
            group["AutoRollbackConfiguration"]["Events"]
        )
        alarms = {alarm["Name"]["Ref"] for alarm in group["AlarmConfiguration"]["Alarms"]}
        assert alarms == {logical_id(service.five_xx_alarm), logical_id(service.unhealthy_alarm)}
        assert group["AlarmConfiguration"]["Enabled"] is True
        assert not config.deploy_despite_alarms
        (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
        assert [tg["Name"]["Fn::GetAtt"][0] for tg in pair["TargetGroups"]] == [
            logical_id(service.target_group),
            logical_id(service.green_target_group),
        ]
        assert pair["ProdTrafficRoute"]["ListenerArns"] == [{"Ref": listeners[443]}]
        assert pair["TestTrafficRoute"]["ListenerArns"] == [{"Ref": listeners[8443]}]

    # `cdk deploy` starts a CodeDeploy deployment whenever the task definition changes: the
    # appspec in the custom resource names the task definition, so a new revision changes it.
    for deployment in deployments.values():
        assert (
            deployment["Properties"]["deploymentConfigName"] == "CodeDeployDefault.ECSCanary10Percent5Minutes"
        )
        assert deployment["Properties"]["autoRollbackConfigurationEnabled"] == "true"
        text = json.dumps(deployment["Properties"]["revisionAppSpecContent"])
        assert "TaskDefinition" in text and "ContainerName" in text


def test_catalog_and_rolling_users_are_in_cloud_map(shop, services, config):
    services.has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": SERVICE_NAMESPACE}
    )
    registered = {
        record["Properties"]["Name"]
        for record in services.find_resources("AWS::ServiceDiscovery::Service").values()
    }
    # Cloud Map does not follow CodeDeploy's traffic shifting: blue/green services stay out.
    expected = {"catalog"} | ({"users"} if not config.is_blue_green("users") else set())
    assert registered == expected


def test_internal_urls(shop, services, config):
    orders = _environment(_container(services, "orders"))
    storefront = _environment(_container(services, "storefront"))
    for caller in (orders, storefront):  # the storefront's catalog reads stay inside the VPC
        assert caller["CATALOG_URL"] == f"http://catalog.{SERVICE_NAMESPACE}:{by_name('catalog').port}"
    jwks = {
        name: _environment(_container(services, name))["JWKS_URL"]
        for name in ("orders", "catalog", "storefront")
    }
    # An admin's order for someone else asks users, by the same way as the token keys.
    assert f"{orders['USERS_URL']}/.well-known/jwks.json" == jwks["orders"]
    if config.name == "dev":
        assert set(jwks.values()) == {f"http://users.{SERVICE_NAMESPACE}:3003/.well-known/jwks.json"}
        alb = logical_id(shop[config.name].services.load_balancer.alb)
        assert storefront["API_BASE_URL"] == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [alb, "DNSName"]}]]}
        assert storefront["SESSION_COOKIE_SECURE"] == "false"
    else:
        assert storefront["API_BASE_URL"] == f"https://{config.domain_name}"
        assert set(jwks.values()) == {f"https://{config.domain_name}/.well-known/jwks.json"}
        assert storefront["SESSION_COOKIE_SECURE"] == "true"
    assert "JWKS_URL" not in _environment(_container(services, "users"))


def test_orders_and_storefront_share_one_shipping_fee(services, config):
    for name in ("orders", "storefront"):
        assert _environment(_container(services, name))["SHIPPING_FEE_VND"] == str(config.shipping_fee_vnd)


def test_log_group_per_service_with_the_environment_retention(services, config):
    days = {"dev": 7, "prod": 30}[config.name]
    for spec in SERVICES:
        services.has_resource_properties(
            "AWS::Logs::LogGroup",
            {"LogGroupName": f"/sweetdream/{config.name}/{spec.name}", "RetentionInDays": days},
        )
        options = _container(services, spec.name)["LogConfiguration"]
        assert options["LogDriver"] == "awslogs"
        assert options["Options"]["awslogs-stream-prefix"] == spec.name
    for group in properties(services, "AWS::Logs::LogGroup"):
        assert group["RetentionInDays"] == days


def test_secrets_reach_tasks_as_ecs_secrets_never_as_plain_environment(services, templates, config):
    for spec in SERVICES:
        container = _container(services, spec.name)
        plain = _environment(container)
        for name, value in plain.items():
            assert not SECRET_LOOKING.search(name), f"{spec.name}: {name} looks secret but is plain"
            assert "secretsmanager" not in json.dumps(value).lower()
        secrets = {item["Name"]: json.dumps(item["ValueFrom"]) for item in container["Secrets"]}
        expected = {"SECRET_KEY"}
        if has_database(spec):
            expected |= {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}
            assert "DATABASE_URL" not in plain
            for variable, field in (
                ("DB_HOST", "host"),
                ("DB_PASSWORD", "password"),
                ("DB_USER", "username"),
            ):
                assert f"ServiceRoles{spec.name.capitalize()}Secret" in secrets[variable]
                assert f":{field}::" in secrets[variable]
        if spec.name == "users":
            expected |= {"ADMIN_PASSWORD"}
            assert "AdminPassword" in secrets["ADMIN_PASSWORD"]
        assert set(secrets) == expected
        assert f"Secrets{spec.name.capitalize()}SecretKey" in secrets["SECRET_KEY"]


def test_only_services_with_tables_get_database_settings():
    assert {spec.name for spec in SERVICES if has_database(spec)} == {"users", "orders", "catalog"}


def test_kms_sign_only_on_the_users_task_role(shop, templates, config):
    users_role = logical_id(shop[config.name].services.services["users"].task_definition.task_role)
    signers = []
    for part in ("Network", "Data", "Services"):
        for lid, statement in statements(templates[config.name, part]):
            if any(action in ("kms:Sign", "kms:*", "*") for action in actions(statement)):
                policy = templates[config.name, part].find_resources("AWS::IAM::Policy").get(lid)
                roles = policy["Properties"]["Roles"] if policy else [{"Ref": lid}]
                signers.append((part, roles, statement))
    assert len(signers) == 1, signers
    part, roles, statement = signers[0]
    assert (part, roles) == ("Services", [{"Ref": users_role}])
    assert sorted(actions(statement)) == ["kms:GetPublicKey", "kms:Sign"]
    assert "TokenSigningKey" in json.dumps(statement["Resource"])


def test_users_task_gets_its_key_admin_password_and_region(services, config):
    users = _environment(_container(services, "users"))
    assert "TokenSigningKey" in json.dumps(users["KMS_KEY_ID"])
    assert users["AWS_REGION"] == config.region


@pytest.mark.parametrize("name", [spec.name for spec in SERVICES])
def test_container_health_check_is_the_dockerfile_healthcheck(templates, name):
    from stacks.container_image import dockerfile_healthcheck

    expected = dockerfile_healthcheck()
    for env in ("dev", "prod"):
        check = _container(templates[env, "Services"], name)["HealthCheck"]
        assert check["Command"][0] == "CMD"
        assert "/health" in check["Command"][-1]
        assert check["Interval"] == expected.interval.to_seconds()
        assert check["StartPeriod"] == expected.start_period.to_seconds()


def test_one_image_for_every_service(services):
    images = {json.dumps(_container(services, spec.name)["Image"]) for spec in SERVICES}
    assert len(images) == 1
    assert "container-assets" in only(images)


def _nat_public_ip_outputs(network_template) -> dict[str, str]:
    """{output name: EIP logical id} for the network stack's outputs of the NAT EIPs' public IPs."""
    outputs = {}
    for name, output in network_template.find_outputs("*").items():
        value = output["Value"]
        if isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1] == "PublicIp":
            outputs[name] = value["Fn::GetAtt"][0]
    return outputs


def _render(value, network_stack: str, outputs: dict[str, str]) -> str:
    """A resolved environment value as text, each NAT address read from the network stack as `<EIP id>`."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(_render(part, network_stack, outputs) for part in parts)
    reference = value["Fn::GetStackOutput"]
    assert reference["StackName"] == network_stack
    return f"<{outputs[reference['OutputName']]}>"


def test_users_trusts_the_private_ranges_and_every_nat_address(shop, services, templates, config):
    network = templates[config.name, "Network"]
    eip_ids = sorted(network.find_resources("AWS::EC2::EIP"))
    assert len(eip_ids) == {"dev": 1, "prod": 2}[config.name] == config.nat_gateways
    value = _environment(_container(services, "users"))["TRUSTED_PROXY_NETWORKS"]
    network_stack = shop[config.name].network.stack_name
    trusted = _render(value, network_stack, _nat_public_ip_outputs(network)).split(",")
    assert trusted == [str(cidr) for cidr in PRIVATE_NETWORKS] + [f"<{eip}>/32" for eip in eip_ids]
    for spec in SERVICES:
        if spec.name != "users":
            assert "TRUSTED_PROXY_NETWORKS" not in _environment(_container(services, spec.name))

    # With addresses in place of the imports, a storefront login resolves to the shopper: the ALB
    # wrote the NAT's address, the storefront passed on the shopper's and the first ALB's.
    nat_addresses = {f"<{eip}>": f"203.0.113.{number}" for number, eip in enumerate(eip_ids, start=1)}
    deployed = ",".join(trusted)
    for placeholder, address in nat_addresses.items():
        deployed = deployed.replace(placeholder, address)
    deployed_networks = [ip_network(cidr) for cidr in deployed.split(",")]
    for nat_address in nat_addresses.values():
        chain = f"198.51.100.7, 10.0.1.20, {nat_address}"
        assert client_address("10.0.2.9", chain, deployed_networks) == "198.51.100.7"
        assert client_address("10.0.2.9", chain, PRIVATE_NETWORKS) == nat_address


def test_a_deploy_despite_alarms_stops_only_the_alarm_watch():
    """A deployment does not start while an alarm it watches fires, so the fix for a 5xx bug needs
    `-c sweetdream:prod:deployDespiteAlarms=true`; failures and stops still roll back."""
    app = App(context={**cdk_json_context(), "sweetdream:prod:certificateArn": CERTIFICATE,
                       "sweetdream:prod:deployDespiteAlarms": "true"})
    prod = add_environment(app, with_context(PROD, app.node.try_get_context, account=ACCOUNT))
    groups = Template.from_stack(prod.services).find_resources("AWS::CodeDeploy::DeploymentGroup")
    assert len(groups) == len(PROD.blue_green_services)
    for group in groups.values():
        assert group["Properties"]["AlarmConfiguration"]["Enabled"] is False
        assert set(group["Properties"]["AutoRollbackConfiguration"]["Events"]) == {
            "DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"}
