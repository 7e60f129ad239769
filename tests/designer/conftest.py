"""Fixtures of the designer tests: a tracker store holding real Rasa events (written by our
`UrlSQLTrackerStore`, Rasa's own SQL tracker store) on SQLite, and on PostgreSQL when
TEST_POSTGRES_URL is set; a copy of the repository's data for the change writer.

The conversations (times relative to NOW):
- tg-1001  completed: greeting, then stores in Quận 3 (find_store 0.93)
- tg-1002  fallback: 'chỗ nào làm lại sim gần nhà' -> nlu_fallback (find_store 0.21 best),
           "did you mean", the customer rephrases, stores found
- zalo-2001 hand-off: request_human, the conversation is paused
- tg-1003  abandoned in update_form while it asked upd_birth_date (2 h ago): the customer
           typed a phone number, an OTP, their name; verified number 0912345678
- tg-1004  ongoing: cancel_form asking cancel_confirmed, 1 minute ago
- tg-1001 (older session, 3 days ago) completed: check_balance 0.44 (low confidence)
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOW = time.time()
PERSONAL = ("0912345678", "482913", "Trần Thị Bình", "tran thi binh", "15/08/1990",
            "079190001234")


def _user(text: str, intent: str, confidence: float, at: float, *,
          entities: list[dict[str, Any]] | None = None, channel: str = "telegram_ptb",
          ranking: list[tuple[str, float]] | None = None) -> Any:
    from rasa.shared.core.events import UserUttered

    parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
             "entities": entities or [],
             "intent_ranking": [{"name": n, "confidence": c}
                                for n, c in (ranking or [(intent, confidence)])]}
    return UserUttered(text, parse["intent"], entities or [], parse, timestamp=at,
                       input_channel=channel)


def _start(at: float) -> list[Any]:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
            ActionExecuted("action_listen", timestamp=at)]


def _act(name: str, at: float) -> Any:
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name, timestamp=at)


def _bot(text: str, at: float) -> Any:
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, timestamp=at)


def _slot(name: str, value: Any, at: float) -> Any:
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=at)


def _loop(name: str | None, at: float) -> Any:
    from rasa.shared.core.events import ActiveLoop

    return ActiveLoop(name, timestamp=at)


def conversations() -> dict[str, list[Any]]:
    from rasa.shared.core.events import ConversationPaused, UserUtteranceReverted

    old, t1, t2, t3, t4 = NOW - 3 * 86400, NOW - 3000, NOW - 2400, NOW - 7200, NOW - 60
    loc = [{"entity": "location", "value": "quận 3", "start": 11, "end": 17}]
    return {
        "tg-1001": [
            *_start(old), _user("tien con bao nhieu", "check_balance", 0.44, old + 1),
            _act("action_check_balance", old + 2), _bot("Dạ, số dư của anh/chị...", old + 2),
            _act("action_listen", old + 3),
            *_start(t1), _user("xin chào", "greet", 0.98, t1 + 1),
            _act("utter_greet", t1 + 2), _bot("Dạ, em chào anh/chị!", t1 + 2),
            _act("action_listen", t1 + 3),
            _user("cửa hàng ở quận 3", "find_store", 0.93, t1 + 10, entities=loc),
            _act("store_form", t1 + 11), _loop("store_form", t1 + 11),
            _slot("location", "quận 3", t1 + 11), _loop(None, t1 + 11),
            _act("action_find_stores", t1 + 12), _bot("Cửa hàng ở Quận 3: ...", t1 + 12),
            _act("action_listen", t1 + 13)],
        "tg-1002": [
            *_start(t2),
            _user("chỗ nào làm lại sim gần nhà", "nlu_fallback", 0.25, t2 + 1,
                  ranking=[("nlu_fallback", 0.25), ("find_store", 0.21),
                           ("report_lost_sim", 0.2)]),
            _act("action_two_stage_fallback", t2 + 2), _loop("action_two_stage_fallback", t2 + 2),
            _act("action_default_ask_affirmation", t2 + 2),
            _bot("Dạ, có phải anh/chị muốn: tìm cửa hàng?", t2 + 2),
            _act("action_listen", t2 + 3),
            _user("tìm cửa hàng", "find_store", 0.97, t2 + 20),
            _act("action_two_stage_fallback", t2 + 21), _loop(None, t2 + 21),
            UserUtteranceReverted(timestamp=t2 + 21), _act("action_listen", t2 + 21),
            _user("tìm cửa hàng", "find_store", 1.0, t2 + 21),
            _act("store_form", t2 + 22), _loop("store_form", t2 + 22),
            _slot("requested_slot", "location", t2 + 22),
            _bot("Anh/chị ở tỉnh/thành, quận/huyện nào ạ?", t2 + 22),
            _act("action_listen", t2 + 23),
            _user("quận 3", "inform", 0.9, t2 + 30,
                  entities=[{"entity": "location", "value": "quận 3", "start": 0, "end": 6}]),
            _act("store_form", t2 + 31), _slot("location", "quận 3", t2 + 31),
            _slot("requested_slot", None, t2 + 31), _loop(None, t2 + 31),
            _act("action_find_stores", t2 + 32), _bot("Cửa hàng ở Quận 3: ...", t2 + 32),
            _act("action_listen", t2 + 33)],
        "zalo-2001": [
            *_start(t1 + 100),
            _user("cho gặp nhân viên", "request_human", 0.95, t1 + 101, channel="zalo"),
            _act("action_deactivate_loop", t1 + 102), _loop(None, t1 + 102),
            _act("action_handoff_to_human", t1 + 102),
            _bot("Dạ, em đang chuyển anh/chị tới tổng đài viên (mã yêu cầu #7)", t1 + 102),
            ConversationPaused(timestamp=t1 + 103)],
        "tg-1003": [
            *_start(t3),
            _user("cập nhật thông tin cho số 0912345678", "update_subscriber_info", 0.88, t3 + 1,
                  entities=[{"entity": "phone_number", "value": "0912345678", "start": 26,
                             "end": 36}]),
            _slot("phone_number", "0912345678", t3 + 1),
            _act("verify_form", t3 + 2), _loop("verify_form", t3 + 2),
            _slot("requested_slot", "otp_code", t3 + 2),
            _bot("Mã OTP đã gửi tới 091***5678", t3 + 2), _act("action_listen", t3 + 3),
            _user("482913", "inform", 0.99, t3 + 10,
                  entities=[{"entity": "otp_code", "value": "482913", "start": 0, "end": 6}]),
            _act("verify_form", t3 + 11), _slot("otp_code", "482913", t3 + 11),
            _slot("verified_msisdn", "0912345678", t3 + 11),
            _slot("identity_verified", True, t3 + 11),
            _slot("requested_slot", None, t3 + 11), _loop(None, t3 + 11),
            _act("update_form", t3 + 12), _loop("update_form", t3 + 12),
            _slot("requested_slot", "upd_full_name", t3 + 12),
            _bot("Anh/chị cho em xin họ tên đầy đủ ạ", t3 + 12), _act("action_listen", t3 + 13),
            _user("tran thi binh", "inform", 0.61, t3 + 20),
            _act("update_form", t3 + 21), _slot("upd_full_name", "Trần Thị Bình", t3 + 21),
            _slot("requested_slot", "upd_birth_date", t3 + 21),
            _bot("- Họ tên: Trần Thị Bình\nNgày sinh của anh/chị là ngày nào ạ?", t3 + 21),
            _act("action_listen", t3 + 22),
            _user("em sinh 15/08/1990, cccd 079190001234", "inform", 0.55, t3 + 30),
            _act("action_listen", t3 + 31)],
        "tg-1004": [
            *_start(t4),
            _user("hủy nhạc chờ", "cancel_service", 0.96, t4 + 1,
                  entities=[{"entity": "service", "value": "FUNRING", "start": 4, "end": 12}]),
            _act("cancel_form", t4 + 2), _loop("cancel_form", t4 + 2),
            _slot("service", "FUNRING", t4 + 2),
            _slot("requested_slot", "cancel_confirmed", t4 + 2),
            _bot("Anh/chị xác nhận hủy nhạc chờ?", t4 + 2), _act("action_listen", t4 + 3)],
    }


def write_conversations(url: str) -> None:
    """Save the conversations through Rasa's SQL tracker store (our URL subclass)."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_stores import UrlSQLTrackerStore

    domain = Domain.load(str(REPO / "domain.yml"))
    store = UrlSQLTrackerStore(domain=domain, host=url)

    async def save() -> None:
        for sender, events in conversations().items():
            tracker = DialogueStateTracker.from_events(sender, events, domain.slots)
            await store.save(tracker)

    asyncio.run(save())
    store.engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_tracker(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tracker") / "tracker.db"
    url = f"sqlite:///{path}"
    import os

    saved = os.environ.pop("TRACKER_DB_URL", None)
    try:
        write_conversations(url)
    finally:
        if saved is not None:
            os.environ["TRACKER_DB_URL"] = saved
    return url


@pytest.fixture(scope="session")
def _postgres_tracker() -> Iterator[str]:
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    schema = f"designer_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, future=True)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - unreachable means skip
        admin.dispose()
        pytest.skip(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {type(exc).__name__}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    saved = os.environ.pop("TRACKER_DB_URL", None)
    try:
        write_conversations(rendered)
        yield rendered
    finally:
        if saved is not None:
            os.environ["TRACKER_DB_URL"] = saved
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracker_url(request) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("_sqlite_tracker")
    return request.getfixturevalue("_postgres_tracker")


@pytest.fixture
def reader(tracker_url):
    from bot.designer.tracker import TrackerReader

    return TrackerReader(tracker_url)


@pytest.fixture
def repo_copy(tmp_path, monkeypatch) -> Path:
    """data/, domain.yml, config.yml and tests/stories/ of the repository, in tmp_path;
    BOT_DESIGNER_ROOT points there (changes go to its .data/designer/changes)."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "data", root / "data")
    shutil.copytree(REPO / "tests" / "stories", root / "tests" / "stories")
    for name in ("domain.yml", "config.yml"):
        shutil.copyfile(REPO / name, root / name)
    monkeypatch.setenv("BOT_DESIGNER_ROOT", str(root))
    monkeypatch.delenv("BOT_DESIGNER_CHANGES_DIR", raising=False)
    return root
