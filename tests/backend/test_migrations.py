"""Alembic migrations from an empty database (SQLite and PostgreSQL) and the `bot db` CLI."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot import database as db
from bot.backend import Backend
from bot.cli import main
from bot.database import Base
from tests.backend_helpers import queue_sms

REPO = Path(__file__).resolve().parents[2]
# The backend's own tables (channels and hand-off share Base: their tables are theirs).
OWN_TABLES = {"subscribers", "services", "subscriptions", "pending_registrations", "topups",
              "update_requests", "otp_challenges", "app_consultations", "sms_outbox", "stores",
              "audit_log", "identity_verifications", "otp_wrong_codes"}


def _schema_diff(url: str) -> list:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    # Tables of other packages (channels, hand-off) live in the same chain: ignore them.
    return [d for d in diffs if _table_of(d) in OWN_TABLES]


def _table_of(diff) -> str | None:
    if isinstance(diff, list):  # modify_* ops come grouped per column
        return diff[0][2]
    op, obj = diff[0], diff[1]
    if op in ("add_table", "remove_table"):
        return obj.name
    if op in ("add_index", "remove_index", "add_constraint", "remove_constraint",
              "add_fk", "remove_fk"):
        return obj.table.name
    if op in ("add_column", "remove_column"):
        return diff[2]
    return "?"


def _tables(url: str) -> set[str]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _check_roundtrip(url: str) -> None:
    assert db.current_heads(url) == ()
    db.upgrade(url)
    assert db.current_heads(url) == db.script_heads()
    assert _tables(url) >= OWN_TABLES
    assert _schema_diff(url) == []
    db.upgrade(url)  # already at head: nothing to do
    db.downgrade(url, "base")
    assert _tables(url) - {"alembic_version"} == set()
    db.upgrade(url)
    assert _tables(url) >= OWN_TABLES


def test_sqlite_upgrade_from_empty(tmp_path):
    _check_roundtrip(f"sqlite:///{tmp_path / 'nested' / 'empty.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_from_empty():
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    schema = f"bot_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, future=True)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # unreachable server
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {type(exc).__name__}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        _check_roundtrip(url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_seeding_on_postgres_twice_keeps_sequences_working(pg_url):
    backend = Backend(pg_url)
    try:
        from bot.backend.seed import seed

        seed(backend)
        seed(backend)
        queue_sms(backend, "0901000001", "xin chào")
        assert backend.sms.outbox()[-1].id == 1
        assert backend.update_requests.submit("0901000001", {}, {}, "zalo").id > 1
    finally:
        backend.dispose()


def test_cli_upgrade_seed_sms_reset(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "--db-url", url, "upgrade"]) == 0
    assert main(["db", "--db-url", url, "seed"]) == 0
    out = capsys.readouterr().out
    assert "Seeded 204 subscribers" in out
    backend = Backend(url)
    try:
        monkeypatch.setenv("BOT_ENV", "test")
        monkeypatch.setenv("BOT_OTP_FIXED_CODE", "654321")
        assert backend.otp.issue("0901000002", "telegram", "telegram:1").status == "sent"
        queue_sms(backend, "0901000003", "tin khác")
        assert main(["db", "--db-url", url, "sms", "--number", "090 100 0002"]) == 0
        out = capsys.readouterr().out
        assert "-> 0901000002] MobiFone: Mã xác thực 654321 để xác minh" in out
        assert "tin khác" not in out
        assert main(["db", "--db-url", url, "sms"]) == 0
        assert "tin khác" in capsys.readouterr().out
        # A listing is read-only: both messages are still pending.
        assert [r.status for r in backend.sms.outbox()] == ["pending", "pending"]
        assert main(["db", "--db-url", url, "sms", "--number", "12"]) == 2
        assert main(["db", "--db-url", url, "reset"]) == 0
        assert backend.sms.outbox() == []
        assert backend.subscribers.get("0901000001") is not None
        assert main(["db", "--db-url", url, "reset", "--no-seed"]) == 0
        assert backend.subscribers.get("0901000001") is None
    finally:
        backend.dispose()


def test_cli_sms_follow_prints_new_messages(seeded_db_url, monkeypatch):
    """`bot db sms --follow` is the demo gateway: each pending message printed once,
    readable, then stored as sent with its code masked."""
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_OTP_FIXED_CODE", "654321")
    env = {**os.environ, "BOT_DB_URL": seeded_db_url}
    backend = Backend(seeded_db_url)
    assert backend.sms.outbox() == []
    # Queued before the follower is ready: still sent (printed) once.
    queue_sms(backend, "0901000004", "Tin trước khi bắt đầu")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "db", "sms", "--follow", "--interval", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    try:
        assert "-> 0901000004] Tin trước khi bắt đầu" in lines.get(timeout=20)
        assert backend.otp.issue("0901000005", "telegram", "telegram:5").status == "sent"
        line = lines.get(timeout=20)
        assert "-> 0901000005] MobiFone: Mã xác thực 654321 để xác minh" in line
        _wait_for(lambda: backend.sms.outbox("0901000005")[-1].status == "sent")
        stored = backend.sms.outbox("0901000005")[-1]
        assert "654321" not in stored.text and "Mã xác thực ****** để xác minh" in stored.text
        # A re-seed empties the outbox and ids start again: the follower keeps up.
        from bot.backend.seed import seed

        seed(backend)
        assert backend.sms.outbox() == []
        queue_sms(backend, "0901000007", "Sau khi nạp lại dữ liệu")
        assert "-> 0901000007] Sau khi nạp lại dữ liệu" in lines.get(timeout=20)
        time.sleep(0.5)
        assert lines.empty(), "a message was printed twice"
    finally:
        proc.kill()
        proc.wait()
        backend.dispose()


def test_cli_sms_follow_last_shows_sent_messages_masked(seeded_db_url, monkeypatch):
    monkeypatch.setenv("BOT_ENV", "test")
    monkeypatch.setenv("BOT_OTP_FIXED_CODE", "654321")
    backend = Backend(seeded_db_url)
    try:
        backend.otp.issue("0901000002", "telegram", "telegram:2")
        assert backend.sms.dispatch(lambda _sms: None) == 1
        queue_sms(backend, "0901000003", "đang chờ")
    finally:
        backend.dispose()
    env = {**os.environ, "BOT_DB_URL": seeded_db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "db", "sms", "--follow", "--last", "1",
         "--interval", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    try:
        first = lines.get(timeout=20)
        assert "-> 0901000002] MobiFone: Mã xác thực ****** để xác minh" in first
        assert "-> 0901000003] đang chờ" in lines.get(timeout=20)
    finally:
        proc.kill()
        proc.wait()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_upgrade_keeps_old_challenges_and_masks_old_codes(tmp_path):
    """0005_otp_guard on a database that already has OTP rows of the old schema."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(url, "0004_identity")
    db.upgrade(url, "0003_handoff")
    db.upgrade(url, "0002_channels")
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO subscribers (id, msisdn, subscription_type, status, full_name, "
                "has_id_front_photo, has_id_back_photo, has_portrait_photo, name_mismatch, "
                "is_premium_number, premium_commitment, device, balance_vnd, created_at) "
                "VALUES (7, '0901000002', 'prepaid', 'active', '', 0, 0, 0, 0, 0, 0, "
                "'smartphone', 0, '2025-06-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO otp_challenges (subscriber_id, channel, code_hash, salt, "
                "issued_at, expires_at, attempts, max_attempts, status) VALUES "
                "(7, 'zalo', 'h', 's', '2025-06-01 00:00:00', '2025-06-01 00:05:00', 1, 5, "
                "'open')"))
            conn.execute(text(
                "INSERT INTO sms_outbox (msisdn, text, created_at) VALUES "
                "('0901000002', 'Mã xác thực của quý khách là 482913, có hiệu lực 5 phút. "
                "Không chia sẻ mã này cho bất kỳ ai.', '2025-06-01 00:00:00'), "
                "('0901000002', 'MobiFone: Quý khách đã hủy thành công Nhạc chờ "
                "(15.000đ/tháng).', '2025-06-01 00:01:00')"))
        db.upgrade(url)
        assert db.current_heads(url) == db.script_heads()
        with engine.connect() as conn:
            ch = conn.execute(text("SELECT msisdn, conversation_id, status, subscriber_id "
                                   "FROM otp_challenges")).one()
            sms = conn.execute(text("SELECT text, status, sent_at, created_at FROM sms_outbox "
                                    "ORDER BY id")).all()
        assert tuple(ch) == ("0901000002", "", "superseded", 7)
        assert "482913" not in sms[0].text and "******" in sms[0].text
        assert sms[1].text.endswith("Nhạc chờ (15.000đ/tháng).")  # nothing secret: as it was
        assert [(r.status, r.sent_at) for r in sms] == [("sent", r.created_at) for r in sms]
        db.downgrade(url, "0004_identity")
        with engine.connect() as conn:
            cols = {c["name"] for c in inspect(conn).get_columns("otp_challenges")}
        assert "conversation_id" not in cols and "msisdn" not in cols
    finally:
        engine.dispose()
