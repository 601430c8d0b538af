"""One-JSON-object-per-line loggers for machine-read events (requests, projector batches).

They write to stderr with their own handler and do not propagate, so the process's text
logging (uvicorn, Faust) neither duplicates nor reformats them. Callers pass fields only:
never secrets, keys or memory text.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from kernel.timefmt import iso_ms, now_ms


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": iso_ms(now_ms()), "level": record.levelname.lower(),
                                "logger": record.name, "msg": record.getMessage()}
        body.update(getattr(record, "fields", {}))
        return orjson.dumps(body, default=str).decode()


def json_logger(name: str) -> logging.Logger:
    """The named logger, given a JSON stderr handler the first time it is asked for."""
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        # the real stderr: Faust's worker redirects sys.stderr into its own text log
        handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.disabled = False
    return logger


def log_fields(logger: logging.Logger, msg: str, level: int = logging.INFO,
               **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"fields": fields})
