"""Gunicorn settings shared by the containers and `make run` (`gunicorn -c services/gunicorn_conf.py`)."""

import os

from services.kit.threads import request_threads

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104 (containers listen on all interfaces)
worker_class = "services.gunicorn_worker.ThreadWorker"  # gthread that stops promptly
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# With several workers, each listens on its own SO_REUSEPORT socket and the kernel spreads new
# connections over them. On one shared socket the worker whose loop wakes first takes a burst of
# keep-alive connections and keeps them, while the other idles (README "Benchmarks"). With one
# worker the master keeps the socket, so connections wait in its backlog while a worker restarts.
reuse_port = workers > 1
threads = request_threads()
timeout = 30
graceful_timeout = 20
keepalive = 75  # longer than the ALB's 60 s idle timeout, so the ALB never reuses a closed socket
accesslog = None  # the kit logs one JSON line per request
errorlog = "-"
logger_class = "services.gunicorn_logging.JsonLogger"
control_socket_disable = True  # one fixed path per user; masters sharing a machine would fight over it
