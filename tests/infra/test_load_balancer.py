"""ALB: rules from the manifest, liveness checks, TLS in prod only, access logs, test listener."""

from __future__ import annotations

from aws_cdk.assertions import Match

from services.manifest import SERVICES
from stacks.data_stack import ALB_LOG_PREFIX
from stacks.load_balancer import MAX_PATTERNS_PER_RULE, routing_rules

from .helpers import logical_id, only, properties


def _target_group_owner(shop_environment) -> dict[str, str]:
    """Target group logical id -> service name."""
    owners = {}
    for name, service in shop_environment.services.services.items():
        owners[logical_id(service.target_group)] = name
        if service.green_target_group is not None:
            owners[logical_id(service.green_target_group)] = name
    return owners


def _listener(services, port: int) -> tuple[str, dict]:
    listeners = {
        lid: props
        for lid, res in services.find_resources("AWS::ElasticLoadBalancingV2::Listener").items()
        if (props := res["Properties"])["Port"] == port
    }
    assert len(listeners) == 1, listeners
    return next(iter(listeners.items()))


def _rules_of(services, listener_id: str, owners: dict[str, str]) -> list[tuple[int, str, list[str]]]:
    rules = []
    for rule in properties(services, "AWS::ElasticLoadBalancingV2::ListenerRule"):
        if rule["ListenerArn"] != {"Ref": listener_id}:
            continue
        (action,) = rule["Actions"]
        (condition,) = rule["Conditions"]
        assert condition["Field"] == "path-pattern"
        rules.append(
            (
                rule["Priority"],
                owners[action["TargetGroupArn"]["Ref"]],
                condition["PathPatternConfig"]["Values"],
            )
        )
    return sorted(rules)


def test_listener_rules_equal_the_manifest_in_priority_order(shop, services, config):
    owners = _target_group_owner(shop[config.name])
    listener_id, listener = _listener(services, 443 if config.https else 80)
    rules = _rules_of(services, listener_id, owners)

    # Read the manifest directly: rules in priority order are the services in manifest order.
    expected = [(spec.name, list(spec.path_patterns)) for spec in SERVICES if spec.path_patterns]
    assert [(service, patterns) for _, service, patterns in rules] == expected
    priorities = [priority for priority, _, _ in rules]
    assert priorities == sorted(set(priorities))
    # The service without path rules (storefront) is the listener's default action.
    (default,) = listener["DefaultActions"]
    assert default["Type"] == "forward"
    assert owners[default["TargetGroupArn"]["Ref"]] == only([s for s in SERVICES if not s.path_patterns]).name


def test_long_pattern_lists_split_into_rules_of_at_most_five():
    from services.manifest import ServiceSpec

    many = ServiceSpec("many", 4000, tuple(f"/p{i}/*" for i in range(12)))
    rules = routing_rules([many, ServiceSpec("web", 3000, ())])
    assert [len(rule.path_patterns) for rule in rules] == [5, 5, 2]
    assert [rule.priority for rule in rules] == [10, 11, 12]
    assert all(len(rule.path_patterns) <= MAX_PATTERNS_PER_RULE for rule in rules)


def test_target_groups_check_each_service_liveness_path(services, config):
    groups = properties(services, "AWS::ElasticLoadBalancingV2::TargetGroup")
    by_port = {}
    for group in groups:
        by_port.setdefault(group["Port"], []).append(group)
    assert set(by_port) == {spec.port for spec in SERVICES}
    for spec in SERVICES:
        for group in by_port[spec.port]:
            assert group["HealthCheckPath"] == spec.liveness_path == "/health/live"
            assert group["Matcher"] == {"HttpCode": "200"}
            assert group["TargetType"] == "ip"
        # blue and green for blue/green services, one group otherwise
        assert len(by_port[spec.port]) == (2 if config.is_blue_green(spec.name) else 1)


def test_https_and_redirect_only_in_prod(services, config):
    listeners = properties(services, "AWS::ElasticLoadBalancingV2::Listener")
    protocols = sorted((listener["Port"], listener["Protocol"]) for listener in listeners)
    if config.name == "prod":
        assert protocols == [(80, "HTTP"), (443, "HTTPS"), (8443, "HTTPS")]
        services.has_resource_properties(
            "AWS::ElasticLoadBalancingV2::Listener",
            {
                "Port": 443,
                "Certificates": [{"CertificateArn": config.certificate_arn}],
                "SslPolicy": Match.string_like_regexp("TLS13"),
            },
        )
        services.has_resource_properties(
            "AWS::ElasticLoadBalancingV2::Listener",
            {
                "Port": 80,
                "DefaultActions": [
                    {
                        "Type": "redirect",
                        "RedirectConfig": Match.object_like(
                            {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
                        ),
                    }
                ],
            },
        )
    else:
        assert protocols == [(80, "HTTP")]
        assert not any("Certificates" in listener for listener in listeners)


def test_test_listener_mirrors_the_rules_and_is_reachable_from_the_vpc_only(shop, services, config):
    if not config.blue_green_services:  # dev: no test listener at all
        assert not any(
            listener["Port"] == 8443
            for listener in properties(services, "AWS::ElasticLoadBalancingV2::Listener")
        )
        return
    owners = _target_group_owner(shop[config.name])
    prod_id, _ = _listener(services, 443)
    test_id, _ = _listener(services, 8443)
    assert _rules_of(services, test_id, owners) == _rules_of(services, prod_id, owners)
    alb_sg = logical_id(shop[config.name].services.load_balancer.security_group)
    (alb_group,) = [
        g for lid, g in services.find_resources("AWS::EC2::SecurityGroup").items() if lid == alb_sg
    ]
    ingress = {
        (rule["FromPort"], rule["CidrIp"] if isinstance(rule["CidrIp"], str) else "vpc")
        for rule in alb_group["Properties"]["SecurityGroupIngress"]
    }
    assert ingress == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0"), (8443, "vpc")}


def test_access_logs_go_to_the_log_bucket(services, data):
    (alb,) = properties(services, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {attribute["Key"]: attribute["Value"] for attribute in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.prefix"] == ALB_LOG_PREFIX
    assert "AccessLogs" in str(attributes["access_logs.s3.bucket"])
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert alb["Scheme"] == "internet-facing"
    # The bucket lets the regional ELB log-delivery account write under the prefix.
    data.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:PutObject",
                                "Effect": "Allow",
                                "Resource": Match.object_like(
                                    {
                                        "Fn::Join": Match.array_with(
                                            [
                                                Match.array_with(
                                                    [Match.string_like_regexp(f"/{ALB_LOG_PREFIX}/AWSLogs/")]
                                                )
                                            ]
                                        )
                                    }
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )
