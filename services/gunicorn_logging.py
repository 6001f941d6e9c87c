"""gunicorn's own lines (starting, a worker timeout, a refused request) in the services' JSON shape,
so the ERROR-lines alarm and Logs Insights read them like every other line."""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from services.kit.logs import JsonFormatter


class JsonLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        # The containers name their service in SERVICE, `make run` and the bench in SERVICE_NAME.
        service = os.environ.get("SERVICE_NAME") or os.environ.get("SERVICE") or "gunicorn"
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter(service))
