"""Python Lambda packages assembled by plain file copies, so synth needs neither Docker nor pip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

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
