"""Fuzz the API from its own OpenAPI schema: whatever is sent, no 5xx, and answers match the schema.

Schemathesis generates requests, valid and invalid, for every operation the schema
lists, and sends them to the app in-process. Random bytes are not images, so "valid
data must be accepted" does not hold for /api/predict; the checks below are those
that must. Schemathesis's pytest plugin (``from_fixture``) does not run under
pytest 9 here, so the Hypothesis strategies are driven directly. Bounded to a few
dozen examples per operation and mode so the suite stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from digit_recognizer.recognizer import shipped_model_path
from digit_recognizer.web.server import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30


@pytest.fixture(scope="module")
def web_schema() -> Any:
    model = Path(os.environ.get("DIGITS_TEST_MODEL") or shipped_model_path())
    assert model.is_file(), f"model {model} not found: the shipped model must be in the package"
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(model))


def test_schema_lists_the_api_operations(web_schema: Any) -> None:
    labels = {result.ok().label for result in web_schema.get_all_operations()}
    assert labels == {
        "POST /api/predict",
        "GET /api/health",
        "GET /api/model",
        "GET /api/corrections",
        "POST /api/corrections",
    }


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda mode: mode.value)
def test_api_never_answers_5xx_to_generated_requests(web_schema: Any, mode: Any) -> None:
    for result in web_schema.get_all_operations():
        operation = result.ok()
        if mode is schemathesis.GenerationMode.NEGATIVE and not (operation.query or operation.body):
            continue  # nothing to get wrong in a request without parameters or body

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        call()
