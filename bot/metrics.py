"""Prometheus metrics of every process (prometheus-client, the DEFAULT registry).

What is defined here (each counted at the one place it happens):

- `bot_turn_seconds{channel}` (histogram), Rasa: one customer message handled, reply
  included (`bot serve rasa` times `Agent.handle_message`);
- `bot_fallbacks_total{stage}`, action server: the assistant did not understand and asks
  "did you mean ...?" (actions/fallback.py);
- `bot_handoffs_total{reason}`, action server: a conversation handed to the human desk,
  ticket opened (actions/handoff.py);
- `bot_otp_sent_total` / `bot_otp_failed_total{status}`, action server: an OTP request, a
  code went to the SMS outbox / refused (cool-down, locked, limited, not an operator
  number) (actions/identity.py).

The channels define their own metrics (messages in/out, inbox depth) on the same default
registry (bot/channels/metrics.py); every process exposes the whole registry at `/metrics`.

`/metrics` is never public: it answers only a caller that sends
`Authorization: Bearer $METRICS_TOKEN` (constant-time comparison); without `METRICS_TOKEN`
(or with a weak one: bot.secrets) in the process's environment the endpoint is disabled
(404). A token rather than "loopback only": behind a load balancer on the same host every
request comes from 127.0.0.1, so the peer address proves nothing (the stack's HAProxy
also refuses `/metrics` from outside).
"""

from __future__ import annotations

import hmac
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.secrets import weakness

METRICS_TOKEN_VAR = "METRICS_TOKEN"

# Buckets for a chat turn: tens of milliseconds when idle, seconds under saturation.
TURN_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

TURN_SECONDS = Histogram("bot_turn_seconds", "Time to handle one customer message (Rasa)",
                         ["channel"], buckets=TURN_BUCKETS)
FALLBACKS = Counter("bot_fallbacks_total", "Messages the assistant did not understand",
                    ["stage"])
HANDOFFS = Counter("bot_handoffs_total", "Conversations handed to the human desk", ["reason"])
OTP_SENT = Counter("bot_otp_sent_total", "OTP codes written to the SMS outbox")
OTP_FAILED = Counter("bot_otp_failed_total", "OTP requests refused", ["status"])
# Admission control (bot/admission.py).
TURNS_IN_FLIGHT = Gauge("bot_turns_in_flight", "Customer turns in progress in this instance")
TURNS_REFUSED = Counter("bot_turns_refused_total",
                        "Turns refused at once because the instance was full (503)")


def record_otp(status: str) -> None:
    """Count one OTP request by the backend's answer (`sent` or why it was refused)."""
    if status == "sent":
        OTP_SENT.inc()
    else:
        OTP_FAILED.labels(status=status).inc()


def metrics_token() -> str | None:
    """METRICS_TOKEN when set and strong (bot.secrets rules); else None: /metrics is off."""
    value = os.environ.get(METRICS_TOKEN_VAR)
    return value if value and weakness(value) is None else None


def authorized(authorization: str | None, token: str | None = None) -> bool:
    """True when `authorization` (the request's Authorization header) is
    `Bearer <METRICS_TOKEN>`; always False when no token is configured."""
    expected = token if token is not None else metrics_token()
    if not expected:
        return False
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))


def exposition(authorization: str | None) -> tuple[int, bytes, str]:
    """(status, body, content type) of a `/metrics` request: 404 when metrics are disabled
    (no METRICS_TOKEN), 401 without the right token, else the default registry."""
    if not metrics_token():
        return 404, b"not found\n", "text/plain; charset=utf-8"
    if not authorized(authorization):
        return 401, b"unauthorized\n", "text/plain; charset=utf-8"
    return 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST
