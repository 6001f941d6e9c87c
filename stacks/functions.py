"""What every SweetDream Lambda function shares: the runtime, packages assembled by plain file copies
(so synth needs neither Docker nor pip), and a log group of its own that it alone writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .base import acknowledge_wildcard_resource
from .config import EnvironmentConfig

# One Python for every function, moved together. Powertools' AWS-managed layer (analytics) is
# published per Python version, so it moves with this.
RUNTIME = lambda_.Runtime.PYTHON_3_13


@jsii.implements(ILocalBundling)
class _LocalCopy:
    def __init__(self, write_package: Callable[[Path], None]):
        self._write_package = write_package

    def try_bundle(self, output_dir: str, *_args, **_kwargs) -> bool:
        self._write_package(Path(output_dir))
        return True


def local_package(source: Path, write_package: Callable[[Path], None]) -> lambda_.Code:
    """The asset `write_package(output_dir)` writes; hashed by its output, so only a changed package
    (not a changed source tree) makes a new asset."""
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(image=RUNTIME.bundling_image, local=_LocalCopy(write_package)),
    )


def function_log_group(scope: Construct, construct_id: str, *, function_name: str,
                       config: EnvironmentConfig) -> logs.LogGroup:
    """The function's log group, made before the function: Lambda would otherwise make it on first
    write, keeping logs forever."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/lambda/{function_name}",
        retention=config.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )


def grant_own_logs(role: iam.Role, log_group: logs.ILogGroup) -> None:
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    acknowledge_wildcard_resource(
        role, log_group.log_group_arn, "Its own log group's streams, which Lambda names at run time."
    )
