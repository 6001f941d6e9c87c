"""Ingress is exactly: the web to the ALB, the ALB to each service, Cloud Map callers to their
callees, and the services that own tables, the database-roles function, the master login's rotation
(and the dev bastion, when on) to PostgreSQL."""

from __future__ import annotations

from services.manifest import SERVICES
from stacks.container_image import has_database
from stacks.services_stack import INTERNAL_CALLERS

from .helpers import logical_id

POSTGRES = "postgres"
ROLES_FUNCTION = "database-roles"
ROTATION = "master-login-rotation"


def _ingress_edges(shop, templates, config) -> set[tuple[str, str, int | str]]:
    """(source, destination, port) for every ingress rule of the environment, named by owner."""
    environment = shop[config.name]
    names = {
        logical_id(service.security_group): name for name, service in environment.services.services.items()
    }
    names[logical_id(environment.services.load_balancer.security_group)] = "alb"
    parts = ["Network", "Data", "Services"]
    if environment.bastion is not None:
        names[logical_id(environment.bastion.host.connections.security_groups[0])] = "bastion"
        parts.append("Bastion")
    db_group = logical_id(environment.data.db_security_group)
    names[db_group] = POSTGRES
    names[logical_id(environment.data.service_roles.security_group)] = ROLES_FUNCTION
    names[logical_id(environment.data.database.rotation_security_group)] = ROTATION

    def name_of(reference) -> str:
        if isinstance(reference, dict) and "Fn::GetAtt" in reference:
            return names[reference["Fn::GetAtt"][0]]
        if isinstance(reference, dict) and "Fn::GetStackOutput" in reference:
            output = reference["Fn::GetStackOutput"]["OutputName"]
            assert db_group in output, output
            return POSTGRES
        raise AssertionError(f"unexpected security group reference {reference}")

    edges = set()
    for part in parts:
        template = templates[config.name, part]
        for lid, group in template.find_resources("AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupIngress", []):
                owner = names.get(lid, POSTGRES if lid == db_group else lid)
                source = rule.get("CidrIp") if isinstance(rule.get("CidrIp"), str) else "vpc-cidr"
                edges.add((source, owner, rule["FromPort"]))
        for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values():
            props = rule["Properties"]
            port = props["FromPort"] if isinstance(props["FromPort"], int) else "db-port"
            edges.add((name_of(props["SourceSecurityGroupId"]), name_of(props["GroupId"]), port))
    return edges


def test_ingress_is_exactly_alb_to_services_services_to_rds_and_cloud_map_calls(shop, templates, config):
    expected = {("0.0.0.0/0", "alb", 443 if config.https else 80)}
    if config.https:
        expected |= {
            ("0.0.0.0/0", "alb", 80),
            ("vpc-cidr", "alb", 8443),
        }  # redirect; CodeDeploy test listener
    expected |= {("alb", spec.name, spec.port) for spec in SERVICES}
    expected |= {(spec.name, POSTGRES, "db-port") for spec in SERVICES if has_database(spec)}
    expected.add((ROLES_FUNCTION, POSTGRES, "db-port"))  # makes the services' roles at deploy time
    expected.add((ROTATION, POSTGRES, "db-port"))  # sets the master's new password
    if config.bastion:
        expected.add(("bastion", POSTGRES, "db-port"))  # SSM port forwarding to PostgreSQL
    for callee, callers in INTERNAL_CALLERS.items():
        if not config.is_blue_green(callee):
            port = next(spec.port for spec in SERVICES if spec.name == callee)
            expected |= {(caller, callee, port) for caller in callers}
    assert _ingress_edges(shop, templates, config) == expected


def test_storefront_cannot_reach_the_database(shop, templates, config):
    assert ("storefront", POSTGRES, "db-port") not in _ingress_edges(shop, templates, config)


def test_database_port_is_the_instance_port(shop, templates, config):
    data = templates[config.name, "Data"]
    (instance,) = data.find_resources("AWS::RDS::DBInstance").keys()
    for rule in templates[config.name, "Services"].find_resources("AWS::EC2::SecurityGroupIngress").values():
        port = rule["Properties"]["FromPort"]
        if not isinstance(port, int):
            assert f"{instance}EndpointPort" in port["Fn::GetStackOutput"]["OutputName"]


def test_tasks_egress_is_limited(shop, templates, config):
    services = templates[config.name, "Services"]
    for name, service in shop[config.name].services.services.items():
        group = services.find_resources("AWS::EC2::SecurityGroup")[logical_id(service.security_group)]
        open_egress = {
            (rule["CidrIp"], rule["FromPort"])
            for rule in group["Properties"]["SecurityGroupEgress"]
            if rule.get("CidrIp") == "0.0.0.0/0"
        }
        # Plain HTTP out only where the shop's URL is http:// and the service calls it (the storefront).
        calls_shop_over_http = not config.https and name == "storefront"
        assert open_egress == (
            {("0.0.0.0/0", 443), ("0.0.0.0/0", 80)} if calls_shop_over_http else {("0.0.0.0/0", 443)}
        ), name
