"""Log lines: JSON that parses, with the fields a collector needs, and never a secret in any line.

Property-based: random secret values are registered (as `SecretBox.get` and `Workspace.resolve`
register what they resolve) and then logged inside messages, arguments, structured extras at any
depth and exception texts; no output line contains one, and no field of the parsed JSON either.
Values under secret names are masked whether registered or not. Text mode redacts the same way.
"""

from __future__ import annotations

import io
import json
import logging
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yecai.cli import serve as serve_cli
from yecai.observability.logs import JsonFormatter, TextFormatter, configure_logging
from yecai.observability.redaction import MASK, forget_secrets, redact_text, register_secret
from yecai.secrets import SecretBox, load_key
from yecai.store.db import Store
from yecai.workspace import parse_workspace

log = logging.getLogger("yecai.test.monitoring")


@pytest.fixture(autouse=True, scope="module")
def _empty_registry_after() -> Iterator[None]:
    # The property test registers hundreds of random values; later modules start clean.
    yield
    forget_secrets()


@contextmanager
def captured(json_lines: bool = True) -> Iterator[io.StringIO]:
    """The process handler, writing into a buffer for the block; the root logger restored after."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(logging.DEBUG, json=json_lines, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_a_json_line_has_the_fixed_fields_and_the_extras() -> None:
    with captured() as stream:
        log.warning(
            "过账失败 %s / posting failed",
            "P-1",
            extra={"connection": "kd", "job": "nightly", "posting_key": "P-1"},
        )
    (entry,) = lines(stream)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "yecai.test.monitoring"
    assert entry["message"] == "过账失败 P-1 / posting failed"  # Chinese kept as it is
    assert (entry["connection"], entry["job"], entry["posting_key"]) == ("kd", "nightly", "P-1")
    assert entry["ts"].endswith("Z")
    assert entry["ts"][10] == "T"


def test_exceptions_are_one_field_of_one_line() -> None:
    with captured() as stream:
        try:
            raise ValueError("坏数据 bad data")
        except ValueError:
            log.exception("导入失败 / import failed")
    (entry,) = lines(stream)
    assert "Traceback" in entry["exception"]
    assert "ValueError: 坏数据 bad data" in entry["exception"]


def test_extras_that_json_cannot_carry_are_written_as_text() -> None:
    from decimal import Decimal

    with captured() as stream:
        log.info("amount", extra={"amount": Decimal("12.30"), "path": Path("/tmp/x")})
    (entry,) = lines(stream)
    assert (entry["amount"], entry["path"]) == ("12.30", "/tmp/x")


def test_secret_names_are_masked_whatever_they_hold() -> None:
    with captured() as stream:
        log.info(
            "login",
            extra={
                "password": "not-registered-1",
                "app_secret": "not-registered-2",
                "headers": {"Authorization": "Bearer abc", "kdservice-sessionid": "sid-1", "Accept": "json"},
                "PM_SANDBOX_TOKEN": "tok-1",
                "sign": "deadbeef",
                "posting_key": "P-9",  # a key, not a secret
            },
        )
    (entry,) = lines(stream)
    assert entry["password"] == entry["app_secret"] == entry["PM_SANDBOX_TOKEN"] == entry["sign"] == MASK
    assert entry["headers"] == {"Authorization": MASK, "kdservice-sessionid": MASK, "Accept": "json"}
    assert entry["posting_key"] == "P-9"


def test_named_secrets_inside_text_are_masked() -> None:
    assert redact_text("GET /api?token=abc123&page=2") == f"GET /api?token={MASK}&page=2"
    assert redact_text('{"app_secret": "s3", "n": 1}') == f'{{"app_secret": "{MASK}", "n": 1}}'
    assert redact_text("Authorization: Bearer abc.def") == f"Authorization: {MASK}"
    # prose that merely names a secret stays readable
    assert redact_text("connection kd lacks secret KD_APP_SECRET: store it") == (
        "connection kd lacks secret KD_APP_SECRET: store it"
    )


def test_text_lines_are_redacted_too() -> None:
    register_secret("text-mode-secret-1")
    with captured(json_lines=False) as stream:
        log.info("value %s", "text-mode-secret-1", extra={"connection": "kd", "password": "x"})
    output = stream.getvalue()
    assert "text-mode-secret-1" not in output
    assert f"value {MASK}" in output
    assert f"connection=kd password={MASK}" in output


def test_secrets_are_registered_as_they_are_resolved(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = SecretBox(store, load_key(tmp_path))
    box.set("kd", "KD_APP_SECRET", "stored-secret-value-1")
    monkeypatch.setenv("PM_TOKEN_FOR_LOG_TEST", "environment-secret-2")
    space = parse_workspace(
        {
            "connections": {
                "pm": {
                    "kind": "source",
                    "connector": "pm_sandbox",
                    "base_url": "http://127.0.0.1:1",
                    "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN_FOR_LOG_TEST}"},
                }
            }
        },
        tmp_path,
    )
    assert box.get("kd", "KD_APP_SECRET") == "stored-secret-value-1"
    assert space.resolve("pm", "${PM_TOKEN_FOR_LOG_TEST}", box) == "environment-secret-2"
    with captured() as stream:
        log.error("calling with stored-secret-value-1 and environment-secret-2")
    (entry,) = lines(stream)
    assert entry["message"] == f"calling with {MASK} and {MASK}"


# Realistic secret alphabets: AppSecrets, tokens, passwords (with punctuation and Chinese).
SECRET = st.text(
    alphabet=string.ascii_letters + string.digits + "-_+/=.!@#$%^&*~" + "密钥口令",
    min_size=8,
    max_size=40,
)
FILLER = st.text(alphabet=string.ascii_letters + " :,=中文", max_size=12)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secrets=st.lists(SECRET, min_size=1, max_size=3, unique=True), filler=FILLER, as_json=st.booleans())
def test_registered_secrets_never_reach_a_line(secrets: list[str], filler: str, as_json: bool) -> None:
    for secret in secrets:
        register_secret(secret)
    first = secrets[0]
    joined = filler.join(secrets)
    with captured(json_lines=as_json) as stream:
        log.warning("literal " + joined + " end")  # no arguments: '%' in a secret is plain text
        log.warning("argument %s and %r", first, secrets[-1])
        log.info(
            "extras",
            extra={
                "connection": f"kd{filler}{first}",
                "detail": {"nested": [joined, {"deeper": first}], "count": 3},
                "values": (first, filler),
            },
        )
        try:
            raise RuntimeError(f"Kingdee said {joined}")
        except RuntimeError:
            log.exception("failed around %s", first)
    output = stream.getvalue()
    assert output.count("\n") >= 4
    for secret in secrets:
        assert secret not in output
    if as_json:
        for entry in lines(stream):
            for text in strings_in(entry):
                for secret in secrets:
                    assert secret not in text


def test_serve_and_worker_follow_yecai_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        monkeypatch.setenv("YECAI_LOG_FORMAT", "json")
        serve_cli._logging()
        formatters = [type(h.formatter) for h in root.handlers if h.formatter is not None]
        assert JsonFormatter in formatters
        monkeypatch.setenv("YECAI_LOG_FORMAT", "text")
        serve_cli._logging()  # replaces its handler, never adds a second
        formatters = [type(h.formatter) for h in root.handlers if h.formatter is not None]
        assert TextFormatter in formatters
        assert JsonFormatter not in formatters
    finally:
        for handler in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter | TextFormatter)]:
            root.removeHandler(handler)
        root.setLevel(level)


def test_the_default_handler_follows_stderr_so_a_closed_swap_is_never_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a command run under a test runner installs the handler while stderr is the runner's buffer,
    # which is closed afterwards; later records must go to the stderr of their own moment
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    swap = io.StringIO()
    monkeypatch.setattr("sys.stderr", swap)
    handler = configure_logging(logging.INFO)
    try:
        swap.close()
        now = io.StringIO()
        monkeypatch.setattr("sys.stderr", now)
        logging.getLogger("yecai.test").info("after the swap")
        lines = now.getvalue().splitlines()
        assert len(lines) == 1, lines  # the record itself, not a "--- Logging error ---" report
        assert lines[0].endswith("after the swap")
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before
        root.setLevel(level)
