"""Log lines of yecai processes: text for people, or one JSON object per line for a log collector.

`configure_logging` installs one stderr handler on the root logger with a filter that redacts
secrets before any formatter sees the record: registered secret values anywhere in the message,
its arguments or the exception text, and every structured extra whose name says it holds a
secret. JSON lines carry ts (ISO-8601 UTC), level, logger, message, the extras (connection, job,
posting_key, …) and the exception text. `yecai serve` and `yecai worker` follow YECAI_LOG_FORMAT.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

from yecai.observability.redaction import redact_text, redact_value

# Attributes every LogRecord has; anything else on a record came from `extra=`. uvicorn's
# `color_message` repeats the message with terminal colour codes: noise in a log file.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def extras_of(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record in place (the message is rendered first, so its arguments are covered)."""

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format: keep both, as logging would print them.
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact_text(message), None
        for key, value in extras_of(record).items():
            setattr(record, key, redact_value(value, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            # Formatters reuse exc_text once set, so the traceback is never rendered unredacted.
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def _iso_utc(created: float) -> str:
    return (
        dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extras beside the fixed fields (never replacing them)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            "thread": record.threadName,
        }
        for key, value in extras_of(record).items():
            entry[key if key not in entry else f"extra_{key}"] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # default=str: an extra that JSON cannot carry (a Decimal, a datetime, a path) as its text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with any extras appended as key=value so they are not lost in text mode."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = extras_of(record)
        if not extras:
            return line
        head, newline, rest = line.partition("\n")
        tail = " ".join(f"{key}={value}" for key, value in extras.items())
        return f"{head} [{tail}]{newline}{rest}"


class _YecaiHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so a second call replaces it.

    Without an explicit stream it writes to whatever `sys.stderr` is at the moment of the record,
    not the one at install time: a command run inside a test runner (or any code that swaps stderr
    and closes the swap) must not leave a handler writing to a closed file."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._fixed = stream
        super().__init__(stream or sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        # StreamHandler.__init__ and setStream assign here: the current stderr means "follow it"
        self._fixed = None if value is sys.stderr else value


def configure_logging(
    level: int | str = logging.INFO, json: bool = False, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send the process's log records to stderr (or `stream`) as text or JSON lines, secrets redacted.

    Called again, it replaces the handler it installed before; other handlers are left alone."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _YecaiHandler)]:
        root.removeHandler(handler)
    handler = _YecaiHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
