"""Whole conversations through the trained test model and a real action server on a
seeded database: what `rasa test core` cannot check (it never runs the actions).

Needs TEST_MODEL (set by `make test-py`); skipped otherwise. Marked slow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import (
    ACTION_TOKEN_HEADER,
    NLG_CLASS,
    TEST_SECRETS,
    action_server_command,
    free_port,
    processes,
    seed_database,
    stack_env,
)

OTP = "123456"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Iterator[Any]:
    model = os.environ.get("TEST_MODEL")
    if not model:
        pytest.skip("TEST_MODEL is not set (run `make test-py`, which trains and exports it)")
    if not Path(model).is_file():
        pytest.skip(f"TEST_MODEL={model} does not exist (run `make .cache/models-test/.trained`)")
    import asyncio

    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    tmp = tmp_path_factory.mktemp("conversations")
    db_url = f"sqlite:///{tmp / 'subscribers.db'}"
    env = stack_env(BOT_OTP_FIXED_CODE=OTP, BOT_DB_URL=db_url, BOT_FIXED_LOCAL_TIME="10:00")
    seed_database(env)
    port = free_port()
    with processes(tmp, env) as procs:
        procs.start("actions", action_server_command(port))
        if not procs.wait("actions", f"http://127.0.0.1:{port}/health", 120):
            pytest.fail("the action server did not start:\n" + procs.log_tail())
        agent = Agent.load(model, action_endpoint=EndpointConfig(
            f"http://127.0.0.1:{port}/webhook",
            headers={ACTION_TOKEN_HEADER: TEST_SECRETS["ACTION_SERVER_TOKEN"]}),
            generator=EndpointConfig(type=NLG_CLASS))  # as in endpoints.yml
        from bot.backend import Backend
        yield _Bot(agent, asyncio.new_event_loop(), Backend(db_url))


class _Bot:
    def __init__(self, agent: Any, loop: Any, backend: Any) -> None:
        self.agent, self.loop, self.backend = agent, loop, backend

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        channel = CollectingOutputChannel()
        self.loop.run_until_complete(self.agent.handle_message(
            UserMessage(text, channel, sender, metadata=metadata)))
        return channel.messages

    def texts(self, sender: str, text: str, metadata: dict | None = None) -> str:
        return "\n".join(m.get("text") or "" for m in self.say(sender, text, metadata))


def test_otp_then_balance_then_no_second_otp(bot):
    assert "xác minh" in bot.texts("c1", "Tài khoản của tôi còn bao nhiêu tiền?")
    answer = bot.texts("c1", "0901000001")
    assert "Nếu số 090***0001 là thuê bao MobiFone, em vừa gửi mã OTP" in answer
    answer = bot.texts("c1", OTP)
    assert "xác minh xong" in answer and "125.000 đ" in answer
    assert "090***0001" in bot.texts("c1", "lịch sử nạp tiền")  # verified for the session


def test_wrong_otp_five_times(bot):
    bot.texts("c2", "kiểm tra thông tin thuê bao")
    bot.texts("c2", "0901000013")
    for left in (4, 3, 2, 1):
        assert f"còn {left} lần" in bot.texts("c2", "000000")
    answer = bot.texts("c2", "000000")
    assert "sai mã OTP 5 lần" in answer and "chưa xác minh được" in answer
    assert not any(a.action == "view_masked_profile" for a in bot.backend.audit.recent())


def test_list_then_cancel_from_the_list(bot):
    bot.backend.identity.record("tg-2", "0901000002", "telegram_contact")
    messages = bot.say("tg-2", "Sao tự nhiên tôi bị trừ tiền?")
    # the missing portrait photo (Decree 49) is said first, then the list
    assert "Nghị định 49" in messages[0]["text"]
    assert "Truyền hình MobiTV: 50.000 đ / 30 ngày" in messages[1]["text"]
    assert "không sử dụng Nhạc chờ FunRing" in bot.texts("tg-2", "hủy dịch vụ nhạc chờ")
    assert "xác nhận hủy Truyền hình MobiTV" in bot.texts(
        "tg-2", '/cancel_service{"service": "MOBITV"}')
    assert "đã hủy thành công Truyền hình MobiTV" in bot.texts("tg-2", "/affirm")
    assert [s.code for s in bot.backend.vas.active_subscriptions("0901000002")] == ["KHOGAME"]


def test_in_chat_update_with_a_question_in_the_middle(bot):
    bot.backend.identity.record("tg-4", "0901000004", "telegram_contact")
    assert "Anh/chị muốn cách nào" in bot.texts("tg-4", "cập nhật thông tin thuê bao thế nào")
    assert "họ và tên" in bot.texts("tg-4", '/update_subscriber_info{"update_method": "chat"}')
    assert "Số giấy tờ" in bot.texts("tg-4", "Nguyễn Văn An")
    assert "chưa hợp lệ" in bot.texts("tg-4", "12345")
    assert "MẶT TRƯỚC" in bot.texts("tg-4", "079203001234")
    answer = bot.texts("tg-4", "bao lâu thì được duyệt")
    assert "48 giờ" in answer and "MẶT TRƯỚC" in answer  # answered, then the form resumes
    assert "Nguyễn Văn An" in bot.texts("tg-4", "/inform", {"photos": ["tg-file-9"]})
    assert "trong vòng 48 giờ" in bot.texts("tg-4", "/affirm")
    assert bot.backend.update_requests.latest("0901000004").status == "pending"


def test_expired_registration_and_start_again(bot):
    bot.backend.identity.record("tg-8", "0901000008", "telegram_contact")
    assert "hết hạn" in bot.texts("tg-8", "xác nhận đăng ký gói C90N")
    assert "XÁC NHẬN LẦN 2" in bot.texts("tg-8", '/register_service{"service": "C90N"}')
    assert "kích hoạt thành công" in bot.texts("tg-8", "/affirm")
    assert "C90N" in {s.code for s in bot.backend.vas.active_subscriptions("0901000008")}


def test_occupation_offer_and_answer_in_words(bot):
    bot.backend.identity.record("tg-10", "0901000010", "telegram_contact")
    assert "nghề nghiệp" in bot.texts("tg-10", "Kiểm tra số dư tài khoản chính")
    bot.texts("tg-10", "/update_occupation")
    assert "Giáo dục, giảng dạy" in bot.texts("tg-10", "giáo viên")
    assert bot.backend.subscribers.get("0901000010").occupation_code == 10


def test_bare_number_first_then_the_request(bot):
    # a customer who starts with their number is asked what they need (was "em vẫn chưa
    # hiểu"), and the number is not asked for again
    assert "cần em hỗ trợ gì cho số thuê bao này" in bot.texts("c3", "0901000003")
    answer = bot.texts("c3", "kiểm tra thông tin thuê bao")
    assert "Nếu số 090***0003 là thuê bao MobiFone, em vừa gửi mã OTP" in answer
    assert "xác minh xong" in bot.texts("c3", OTP)
