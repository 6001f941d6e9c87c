"""Small lookups over synthesized templates."""

from __future__ import annotations

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct


def logical_id(construct: IConstruct) -> str:
    """The logical id of an L1 element, or of an L2 construct's default child."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    return Stack.of(element).resolve(element.logical_id)


def resources(template: Template, resource_type: str) -> dict[str, dict]:
    return template.find_resources(resource_type)


def properties(template: Template, resource_type: str) -> list[dict]:
    return [resource.get("Properties", {}) for resource in resources(template, resource_type).values()]


def only(items: dict | list):
    values = list(items.values()) if isinstance(items, dict) else list(items)
    assert len(values) == 1, values
    return values[0]


def statements(template: Template) -> list[tuple[str, dict]]:
    """(logical id of the policy or role, statement) for every IAM policy statement of the template."""
    found = []
    for lid, policy in template.find_resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((lid, statement))
    for lid, role in template.find_resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                found.append((lid, statement))
    return found


def actions(statement: dict) -> list[str]:
    found = statement.get("Action", [])
    return [found] if isinstance(found, str) else found


def resources_of(statement: dict) -> list:
    found = statement.get("Resource", [])
    return found if isinstance(found, list) else [found]
