"""Structured logs: one JSON object per line, with any ``extra={...}`` fields."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

# color_message: uvicorn's copy of a message with ANSI colour escapes, for its own
# terminal formatter; the JSON lines carry the plain message only
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(
            (k, v)
            for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Route every logger (uvicorn's too) to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Client libraries log every request at INFO: one line per call to the search
    # engine, the broker or another service drowns the service's own logs.
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


_CHATTY = ("httpx", "httpcore", "opensearch", "elastic_transport", "aiokafka", "faststream")
