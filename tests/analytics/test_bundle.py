"""The Lambda package holds everything the handler imports, and nothing from the repository else."""

from __future__ import annotations

from pathlib import Path

from stacks.analytics import KIT_EVENTS, LAMBDA_MODULES, LAMBDA_SOURCE, bundle_lambda_package
from tests.conftest import run_isolated

# Run with -I (isolated): no PYTHONPATH, no current directory, only the bundle and site-packages,
# which stand in for the Lambda runtime (boto3) and the Powertools layer.
IMPORT_CHECK = """
import json, sys, sysconfig
sys.path.insert(0, {bundle!r})
installed = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], sys.base_prefix)
import analytics_export.handler as handler
from services.kit import events
assert handler.lambda_handler and events.ENVELOPE_FIELDS
outside = sorted(name for name, module in sys.modules.items()
                 if (getattr(module, "__file__", None) or "").startswith({repo!r})
                 and not module.__file__.startswith(({bundle!r}, *installed)))
print(json.dumps(outside))
"""


def test_bundle_contains_the_core_and_the_kit_envelope_only(tmp_path):
    bundle_lambda_package(tmp_path)

    files = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert files == sorted(
        [
            *(f"analytics_export/{module}" for module in LAMBDA_MODULES),
            "services/__init__.py",
            "services/kit/__init__.py",
            "services/kit/events.py",
        ]
    )
    assert (tmp_path / "services/kit/events.py").read_bytes() == KIT_EVENTS.read_bytes()


def test_every_core_module_is_packaged():
    tools = {"local.py", "benchmark.py"}  # run on a laptop, never in Lambda
    assert {path.name for path in LAMBDA_SOURCE.glob("*.py")} - tools == set(LAMBDA_MODULES)


def test_the_handler_imports_from_the_bundle_alone(tmp_path):
    bundle_lambda_package(tmp_path)
    repo = str(Path(__file__).resolve().parents[2])

    completed = run_isolated(IMPORT_CHECK.format(bundle=str(tmp_path), repo=repo), cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"  # nothing was imported from the repository itself
