"""bot.metrics and bot.health without servers: who may read /metrics, what readiness says
when a dependency fails or hangs, and that the counters move."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from bot import health, metrics

TOKEN = "metrics-token-4b8d2f6a9c1e3057d9b2f4a6c8e0"


@pytest.fixture()
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(metrics.METRICS_TOKEN_VAR, TOKEN)
    return TOKEN


def test_metrics_are_off_without_a_token(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(metrics.METRICS_TOKEN_VAR, raising=False)
    assert metrics.exposition(f"Bearer {TOKEN}")[0] == 404
    assert metrics.exposition(None)[0] == 404


@pytest.mark.parametrize("weak", ["token", "short-one", "a" * 40, "change-me-" * 4])
def test_a_weak_token_turns_metrics_off_instead_of_protecting_them(monkeypatch, weak):
    monkeypatch.setenv(metrics.METRICS_TOKEN_VAR, weak)
    assert metrics.exposition(f"Bearer {weak}")[0] == 404


@pytest.mark.parametrize("header", [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                                    f"Bearer {TOKEN[:-1]}", f"bearer{TOKEN}", "Bearer  "])
def test_metrics_refuse_anything_but_the_token(token, header):
    status, body, _ = metrics.exposition(header)
    assert status == 401 and b"bot_" not in body


def test_metrics_with_the_token_show_the_default_registry(token):
    status, body, content_type = metrics.exposition(f"Bearer {TOKEN}")
    assert status == 200 and content_type.startswith("text/plain")
    for line in ("# TYPE bot_turn_seconds histogram", "# TYPE bot_otp_sent_total counter",
                 "# TYPE bot_handoffs_total counter", "# TYPE bot_fallbacks_total counter",
                 "python_gc_objects"):
        assert line.encode() in body


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_otp_outcomes_are_counted_by_status():
    sent, limited = value("bot_otp_sent_total"), value("bot_otp_failed_total", status="limited")
    metrics.record_otp("sent")
    metrics.record_otp("limited")
    metrics.record_otp("limited")
    assert value("bot_otp_sent_total") == sent + 1
    assert value("bot_otp_failed_total", status="limited") == limited + 2


async def test_readiness_names_the_failed_and_the_hung_check():
    def broken() -> None:
        raise ConnectionError("postgresql://user:secret@db-host/ refused")

    ready, outcome = await health.readiness(
        {"ok": lambda: True, "down": broken, "false": lambda: False,
         "hung": lambda: time.sleep(1)}, timeout_s=0.2)
    assert not ready
    assert outcome == {"ok": "ok", "down": "failed", "false": "failed", "hung": "timeout"}
    status, body = health.readiness_body(ready, outcome)
    assert status == 503 and "secret" not in body and "db-host" not in body


async def test_readiness_passes_when_every_check_does():
    ready, outcome = await health.readiness({"a": lambda: None, "b": lambda: 1})
    assert ready and health.readiness_body(ready, outcome)[0] == 200


def test_rasa_readiness_checks_the_model_the_real_tracker_store_and_redis():
    pinged = []
    engine = SimpleNamespace()
    inner = SimpleNamespace(engine=engine)
    agent = SimpleNamespace(is_ready=lambda: False,
                            tracker_store=SimpleNamespace(_tracker_store=inner),
                            lock_store=SimpleNamespace(red=SimpleNamespace(
                                ping=lambda: pinged.append(1) or True)))
    checks = health.rasa_checks(agent)
    assert set(checks) == {"model", "tracker_store", "lock_store"}
    assert checks["model"]() is False  # not loaded yet: not ready
    assert checks["lock_store"]() is True and pinged
    assert health.rasa_checks(None)["model"]() is False


def test_sql_check_runs_a_query(tmp_path):
    import sqlalchemy as sa

    good = sa.create_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    health.sql_check(good)()
    bad = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    with pytest.raises(sa.exc.OperationalError):
        health.sql_check(bad)()
