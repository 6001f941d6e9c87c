"""The Lambda package holds the handler and its driver; the runtime brings only boto3 and its own."""

from __future__ import annotations

import importlib
from pathlib import Path

from stacks.database_roles import DRIVER_PACKAGES, bundle_lambda_package
from tests.conftest import run_isolated

# What the Lambda Python runtime has besides the standard library: boto3 and what it needs.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")

# -I -S: no site-packages, no environment, no current directory; only the two paths given.
IMPORT_CHECK = """
import sys
sys.path[:0] = [{bundle!r}, {runtime!r}]
import database_roles.handler as handler
import pg8000.native
assert handler.on_event and pg8000.native.Connection
print(pg8000.__file__)
"""


def _runtime_stand_in(path: Path) -> Path:
    path.mkdir()
    for name in RUNTIME_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__)
        target = source.parent if source.name == "__init__.py" else source
        (path / target.name).symlink_to(target)
    return path


def test_the_package_is_the_handler_and_the_driver(tmp_path):
    bundle_lambda_package(tmp_path)

    packages = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".dist-info"))
    assert packages == sorted(["database_roles", *DRIVER_PACKAGES])
    assert len(list(tmp_path.glob("*.dist-info"))) == len(DRIVER_PACKAGES)
    assert sorted(p.name for p in (tmp_path / "database_roles").iterdir()) == ["__init__.py", "handler.py"]


def test_the_handler_imports_from_the_package_and_the_runtime_alone(tmp_path):
    bundle = tmp_path / "bundle"
    bundle_lambda_package(bundle)
    runtime = _runtime_stand_in(tmp_path / "runtime")

    completed = run_isolated(IMPORT_CHECK.format(bundle=str(bundle), runtime=str(runtime)), cwd=tmp_path,
                             without_site=True)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().startswith(str(bundle))
