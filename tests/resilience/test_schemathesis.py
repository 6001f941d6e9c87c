"""Property-based API tests generated from each service's own /openapi.json (schemathesis).

Every operation gets bounded, reproducible examples, valid (positive) and invalid (negative), sent
over HTTP to the gunicorn processes with an admin token, so the handlers behind the auth checks
are reached too. Whatever is sent: no 5xx, and every answer matches the documented schema and
content type; invalid input is refused with a 4xx.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from .conftest import Shop

EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Invalid input is refused with a 4xx, never accepted.
MODE_CHECKS = {GenerationMode.POSITIVE: [], GenerationMode.NEGATIVE: [negative_data_rejection]}


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize("service", ["users", "catalog", "orders"])
def test_every_operation_answers_within_its_contract(healthy_shop: Shop, service: str,
                                                    mode: GenerationMode):
    shop = healthy_shop
    base_url = shop.url(service)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures, operations, calls = [], 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            response = case.call_and_validate(base_url=base_url, headers=shop.admin_headers,
                                              checks=CHECKS + MODE_CHECKS[mode], timeout=15)
            calls.append(response.status_code)

        try:
            exercise()
        except Unsatisfiable:
            # an operation with no inputs (GET /health-like) has nothing to make invalid
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}:\n{exc}")
    assert operations > 0 and len(calls) >= operations
    print(f"{service} {mode.value}: {operations} operations, {len(calls)} calls, statuses "
          f"{dict(sorted(Counter(calls).items()))}")
    assert not failures, "\n\n".join(failures)
