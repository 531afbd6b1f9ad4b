"""The API keeps the promises of its own OpenAPI spec, checked by schemathesis.

Every operation of /api/openapi gets requests generated from the spec, valid and
invalid, and every answer is checked: no 5xx, a documented status, content type,
headers and body, valid data accepted, invalid data refused.
"""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, reject, settings
from hypothesis import strategies as st
from PIL import Image

from billing.credits import grant_prepaid
from billing.membership import TRUTHY
from removal.validation import TRUE_VALUES

pytestmark = pytest.mark.django_db

# Inference runs on every accepted /rmbg request: its cases are fewer (about 2 minutes
# for both operations on two cores). Each operation must get at least its minimum.
EXAMPLES = {"GET /api/membership-usage": 850, "POST /rmbg": 150, "POST /api/batches": 100}
MINIMUM = {"GET /api/membership-usage": 850, "POST /rmbg": 150, "POST /api/batches": 100}
# The other batch operations take an id or nothing: fewer cases cover them, and those
# without parameters have only a handful of distinct cases to send.
BATCH_READS = ["listBatches", "getBatch", "cancelBatch", "getBatchFile", "getBatchResult"]
for label in (
    "GET /api/batches/{batch_id}",
    "DELETE /api/batches/{batch_id}",
    "GET /api/batches/{batch_id}/files/{index}",
    "GET /api/batches/{batch_id}/result.zip",
):
    EXAMPLES[label] = MINIMUM[label] = 25
for label in (
    "GET /api/batches",
    "GET /api/batches/callback-secret",
    "POST /api/batches/callback-secret",
):
    MINIMUM[label] = 1
MAX_OUTPUT_SIDE = 48
SENT: list[str] = []


def tiny_images(fmt: str, mode: str) -> st.SearchStrategy[bytes]:
    """Small real images: the spec's encoding says the part is an image, not any bytes."""

    def build(size: tuple[int, int], shade: int) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, size, (shade, 90, 200, shade)[: len(mode)]).save(buffer, fmt)
        return buffer.getvalue()

    sides = st.integers(1, 24)
    return st.builds(build, st.tuples(sides, sides), st.integers(0, 255))


for media_type, fmt, mode in [
    ("image/png", "PNG", "RGBA"),
    ("image/jpeg", "JPEG", "RGB"),
    ("image/webp", "WEBP", "RGBA"),
    ("image/bmp", "BMP", "RGB"),
]:
    schemathesis.openapi.media_type(media_type, tiny_images(fmt, mode))


def load_schema():
    from config.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/openapi", application)


schema = load_schema()
# Unknown query parameters are ignored, as HTTP services do; the key is sent by the test
# (missing and bad keys are tested in accounts/tests).
schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)


@pytest.fixture(autouse=True)
def _requests_inside_the_test_transaction():
    # As Django's test Client does: the requests run inside the test's transaction,
    # so the end of a request must not close the connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def as_documented(case) -> None:
    """Rules of the descriptions that a schema cannot state, applied to the case."""
    query = case.query
    if not case.meta.generation.mode.is_positive:
        # The WSGI transport leaves an empty multipart field out: such a case reaches
        # the server without its invalid part, so it is no invalid request at all.
        if isinstance(case.body, dict) and "" in case.body.values():
            reject()
        # "listBillingCycles=true ignores everything else", the invalid part included.
        if isinstance(query, dict) and str(query.get("listBillingCycles")).lower() in TRUTHY:
            del query["listBillingCycles"]
        return
    # A key names one request (prose): a valid case reusing another's key would be a 422.
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if key:
        case.headers["Idempotency-Key"] = f"{len(SENT)}-{key}"[:255]
    # OpenAPI has no rule across query parameters: "not with year/month" is prose.
    if isinstance(query, dict) and "periodStartUnix" in query and {"year", "month"} & set(query):
        del query["periodStartUnix"]
    body = case.body
    if isinstance(body, dict):
        small_output(body)
        # Whether a callback's host resolves to a public address is prose (and this
        # machine resolves nothing): tested in batches/tests/test_callbacks.py.
        body.pop("callback_url", None)
        # "bg_color: not with mask=true" is prose too.
        if str(body.get("mask")).lower() in TRUE_VALUES and body.get("bg_color"):
            del body["bg_color"]


def small_output(body: dict) -> None:
    """The spec allows outputs up to 10000 px; what that costs is measured in
    benchmarks/ and bounded in removal, so the fuzzer keeps its outputs small."""
    for side in ("w", "h"):
        if isinstance(body.get(side), int) and body[side] > MAX_OUTPUT_SIDE:
            body[side] = MAX_OUTPUT_SIDE


FUZZ = settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def call(case, alice_key) -> None:
    as_documented(case)
    SENT.append(case.operation.label)
    case.call_and_validate(headers={"x-api-key": alice_key})


@pytest.fixture
def paying_alice(alice):
    grant_prepaid(alice, 10_000, "fuzzing")
    return alice


@schema.include(operation_id="membershipUsage").parametrize()
@settings(FUZZ, max_examples=EXAMPLES["GET /api/membership-usage"])
def test_membership_usage_keeps_the_promises_of_the_spec(case, alice_key):
    call(case, alice_key)


@schema.include(operation_id="removeBackground").parametrize()
@settings(FUZZ, max_examples=EXAMPLES["POST /rmbg"])
def test_rmbg_keeps_the_promises_of_the_spec(case, paying_alice, alice_key):
    call(case, alice_key)


@schema.include(operation_id="createBatch").parametrize()
@settings(FUZZ, max_examples=EXAMPLES["POST /api/batches"])
def test_create_batch_keeps_the_promises_of_the_spec(case, paying_alice, alice_key):
    call(case, alice_key)


@schema.include(
    operation_id=[*BATCH_READS, "getCallbackSecret", "rotateCallbackSecret"]
).parametrize()
@settings(FUZZ, max_examples=25)
def test_the_other_batch_operations_keep_the_promises_of_the_spec(case, alice_key):
    call(case, alice_key)


def test_the_fuzzing_sent_enough_requests():
    if not SENT:
        pytest.skip("the fuzzing tests did not run")
    sent = {label: SENT.count(label) for label in set(SENT)}
    assert sent == {label: max(n, MINIMUM[label]) for label, n in sent.items()}
    assert sum(MINIMUM.values()) >= 1200
