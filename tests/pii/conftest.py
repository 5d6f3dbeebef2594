"""One redactor for the whole PII test area: presidio's import and the ONNX session are the
expensive part (seconds), the redaction itself is milliseconds."""

from __future__ import annotations

import pytest

from tests.pii.pii_labelled import Case, build_cases


@pytest.fixture(scope="session")
def redactor():
    from supportloop.feedback.pii import PiiConfig, PiiRedactor

    return PiiRedactor(PiiConfig())


@pytest.fixture(scope="session")
def cases() -> dict[str, list[Case]]:
    return build_cases(seed=7, per_type=100)
