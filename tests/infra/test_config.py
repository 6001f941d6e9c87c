"""The environment table of DESIGN.md, and how context completes it."""

from __future__ import annotations

import dataclasses

import pytest

from stacks.config import DEV, PROD, EnvironmentContextError, with_context

CERTIFICATE = "arn:aws:acm:us-west-2:111122223333:certificate/0d4c1f6e-5b7a-4d2e-9a3c-7e8f9a0b1c2d"


def context(**values):
    return lambda key: values.get(key)


def test_the_environment_table():
    table = {
        "region": ("us-east-1", "us-west-2"),
        "vpc_cidr": ("10.1.0.0/16", "10.0.0.0/16"),
        "log_retention_days": (7, 30),
        "min_tasks": (1, 2),
        "max_tasks": (3, 10),
        "cpu_target_percent": (70, 70),
        "blue_green_services": ((), ("storefront", "users", "orders")),
        "https": (False, True),
        "bastion_allowed": (True, False),
        "db_multi_az": (False, True),
        "db_deletion_protection": (False, True),
        "db_backup_days": (7, 30),
        "termination_protection": (False, True),
        "nat_gateways": (1, 2),
    }
    for field, (dev, prod) in table.items():
        assert (getattr(DEV, field), getattr(PROD, field)) == (dev, prod), field
    assert DEV.availability_zones == ("us-east-1a", "us-east-1b")
    assert PROD.availability_zones == ("us-west-2a", "us-west-2b")
    assert (DEV.stack_prefix, PROD.stack_prefix) == ("SweetDream-Dev", "SweetDream-Prod")


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEV.min_tasks = 5


def test_context_fills_in_account_settings():
    dev = with_context(
        DEV,
        context(**{"sweetdream:alertEmail": "ops@example.com", "sweetdream:dev:bastion": "true"}),
        account="123456789012",
    )
    assert (dev.alert_email, dev.bastion, dev.account, dev.certificate_arn) == (
        "ops@example.com",
        True,
        "123456789012",
        None,
    )
    prod = with_context(
        PROD,
        context(
            **{
                "sweetdream:prod:alertEmail": "oncall@example.com",
                "sweetdream:prod:certificateArn": CERTIFICATE,
                "sweetdream:prod:domainName": "shop.example.com",
            }
        ),
    )
    assert (prod.alert_email, prod.certificate_arn, prod.domain_name, prod.bastion) == (
        "oncall@example.com",
        CERTIFICATE,
        "shop.example.com",
        False,
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "alertEmail"),
        ({"sweetdream:alertEmail": "not-an-address"}, "alertEmail"),
        ({"sweetdream:alertEmail": "a@b.co"}, "certificateArn"),
        (
            {
                "sweetdream:alertEmail": "a@b.co",
                "sweetdream:prod:certificateArn": CERTIFICATE.replace("us-west-2", "us-east-1"),
            },
            "certificateArn",
        ),
        ({"sweetdream:alertEmail": "a@b.co", "sweetdream:prod:certificateArn": CERTIFICATE}, "domainName"),
        (
            {
                "sweetdream:alertEmail": "a@b.co",
                "sweetdream:prod:certificateArn": CERTIFICATE,
                "sweetdream:prod:domainName": "shop.example.com",
                "sweetdream:prod:bastion": True,
            },
            "never runs a bastion",
        ),
    ],
)
def test_prod_context_is_validated(values, message):
    with pytest.raises(ValueError, match=message):
        with_context(PROD, context(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"sweetdream:alertEmail": "a@b.co"},
        {"sweetdream:alertEmail": "a@b.co", "sweetdream:prod:certificateArn": CERTIFICATE},
        {
            "sweetdream:alertEmail": "a@b.co",
            "sweetdream:prod:certificateArn": CERTIFICATE,
            "sweetdream:prod:domainName": "shop.example.com",
            "sweetdream:account": "123456789012",
        },
    ],
)
def test_prod_certificate_and_domain_problems_concern_prod_alone(values):
    # app.py leaves prod out for these and keeps dev; anything else stops every synth.
    with pytest.raises(EnvironmentContextError):
        with_context(PROD, context(**values))
    assert with_context(DEV, context(**values)).certificate_arn is None
    with pytest.raises(ValueError) as refused:
        with_context(PROD, context(**{**values, "sweetdream:alertEmail": "not-an-address"}))
    assert not isinstance(refused.value, EnvironmentContextError)


def test_a_certificate_of_another_account_is_refused_once_the_account_is_known():
    values = {
        "sweetdream:alertEmail": "a@b.co",
        "sweetdream:prod:certificateArn": CERTIFICATE,
        "sweetdream:prod:domainName": "shop.example.com",
    }
    assert with_context(PROD, context(**values)).certificate_arn == CERTIFICATE  # offline synth
    assert with_context(PROD, context(**values), account="111122223333").account == "111122223333"
    with pytest.raises(ValueError, match="certificate of account 111122223333"):
        with_context(PROD, context(**values), account="123456789012")
    with pytest.raises(ValueError, match="certificate of account 111122223333"):
        with_context(PROD, context(**values, **{"sweetdream:account": "123456789012"}))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"availability_zones": ("us-east-1a",)}, "two availability zones"),
        ({"availability_zones": ("us-west-2a", "us-west-2b")}, "not in us-east-1"),
        ({"nat_gateways": 3}, "nat_gateways"),
        ({"min_tasks": 4}, "min_tasks"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"blue_green_services": ("catalog",)}, "catalog must roll"),
        ({"shipping_fee_vnd": -1}, "shipping_fee_vnd"),
        ({"shipping_fee_vnd": 10_000_001}, "shipping_fee_vnd"),
    ],
)
def test_inconsistent_configs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DEV, **change)


def test_a_database_size_without_a_known_max_connections_is_refused():
    with pytest.raises(ValueError, match="MAX_CONNECTIONS_BY_SIZE"):
        dataclasses.replace(DEV, db_instance_type="t4g.nano")
    assert dataclasses.replace(DEV, db_instance_type="db.r6g.large").db_max_connections == 800
