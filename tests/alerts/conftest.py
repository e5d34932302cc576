"""Fixtures of the alert tests: a fake SMTP server (tests/support/receivers.py) per test.

A module sets `SMTP_LOGIN = {"username": ..., "password": ...}` to make the server require that
login; without it the server takes mail from anyone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.receivers import FakeSmtp


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[FakeSmtp]:
    server = FakeSmtp(**getattr(request.module, "SMTP_LOGIN", {})).start()
    yield server
    server.stop()
