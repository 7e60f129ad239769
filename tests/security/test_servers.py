"""Attacks on the servers: the Rasa HTTP API, the action server, the REST channel.

Each test is an attack an outsider would try; it fails on the code before the security
round (REST metadata skipped the OTP, `change-me` opened the API, anyone reaching port 5055
ran actions with made-up slots)."""

from __future__ import annotations

import json
import subprocess
import time

import jwt
import pytest

from tests.security.conftest import OTP, Stack, request
from tests.servers import (
    ACTION_TOKEN_HEADER,
    BIN,
    REPO,
    TEST_SECRETS,
    free_port,
    listening_addresses,
    rasa_token_query,
    stack_env,
)

VICTIM = "0901000001"
PROFILE_LABEL = "Chủ thuê bao"  # first label of the masked profile


def _asks_for_otp(answer: str) -> bool:
    return "mã OTP" in answer and PROFILE_LABEL not in answer


def _jwt(secret: str, role: str = "admin", username: str = "handoff") -> str:
    return jwt.encode({"user": {"username": username, "role": role},
                       "exp": int(time.time()) + 60}, secret, algorithm="HS256")


# ------------------------------------------------------------- startup refusals (fast)
def _start_and_wait(command: list[str], env: dict[str, str],
                    timeout: float = 60) -> tuple[int, str]:
    proc = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("token", ["change-me", "short-token",
                                   "a" * 40,  # long but not random
                                   ""])
def test_rasa_refuses_to_start_with_a_weak_api_token(tmp_path, token):
    port = free_port()
    env = stack_env(RASA_AUTH_TOKEN=token)
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "rasa", "--port", str(port),
                                    "--model", str(tmp_path / "none.tar.gz")], env)
    assert code != 0
    assert "RASA_AUTH_TOKEN" in output
    assert not listening_addresses(port)


def test_rasa_refuses_a_weak_jwt_secret(tmp_path):
    env = stack_env(RASA_JWT_SECRET="change-me-please-change-me-please-0000")
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "rasa", "--port",
                                    str(free_port())], env)
    assert code != 0 and "RASA_JWT_SECRET" in output


def test_rasa_refuses_a_weak_media_key(tmp_path):
    """The channels store customer photos encrypted with BOT_MEDIA_KEY (bot/media)."""
    env = stack_env(BOT_MEDIA_KEY="short")
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "rasa", "--port",
                                    str(free_port())], env)
    assert code != 0 and "BOT_MEDIA_KEY" in output


def test_production_refuses_the_rest_channel():
    env = stack_env(BOT_ENV="prod")
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "rasa", "--port",
                                    str(free_port()), "--credentials", "credentials.yml"], env)
    assert code != 0 and "rest" in output and "development" in output


def test_production_refuses_debug_logging():
    env = stack_env(BOT_ENV="prod")
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "rasa", "--port",
                                    str(free_port()), "--credentials",
                                    "deploy/credentials.prod.yml", "--debug"], env)
    assert code != 0 and "debug" in output


def test_action_server_refuses_to_start_with_a_weak_token():
    env = stack_env(ACTION_SERVER_TOKEN="change-me")
    code, output = _start_and_wait([str(BIN / "bot"), "serve", "actions", "--port",
                                    str(free_port())], env)
    assert code != 0 and "ACTION_SERVER_TOKEN" in output


def test_production_generates_no_secrets():
    env = {k: v for k, v in stack_env(BOT_ENV="prod").items()
           if k not in TEST_SECRETS}
    code, output = _start_and_wait([str(BIN / "bot"), "secrets", "env"], env)
    assert code != 0 and "prod" in output


# ------------------------------------------------------------------- running servers
def test_every_server_listens_on_loopback_only(stack: Stack):
    for name, port in stack.ports.items():
        assert listening_addresses(port) == {"127.0.0.1"}, name


def test_rasa_api_refuses_missing_default_and_forged_credentials(stack: Stack):
    url = f"{stack.rasa_url}/conversations/api-probe/tracker"
    assert request("GET", url)[0] == 401
    assert request("GET", f"{url}?token=change-me")[0] == 401
    forged = _jwt("not-the-secret-" + "x" * 30)
    assert request("GET", url, headers={"Authorization": f"Bearer {forged}"})[0] == 401
    # a JWT with the right secret but a user role only reaches its own conversation
    own = _jwt(TEST_SECRETS["RASA_JWT_SECRET"], role="user", username="someone-else")
    assert request("GET", url, headers={"Authorization": f"Bearer {own}"})[0] == 403
    # what our own clients send
    assert request("GET", f"{url}?{rasa_token_query()}")[0] == 200
    good = _jwt(TEST_SECRETS["RASA_JWT_SECRET"])
    assert request("GET", url, headers={"Authorization": f"Bearer {good}"})[0] == 200


def _forged_action_call(action: str) -> dict:
    slots = {"verified_msisdn": VICTIM, "identity_verified": True, "phone_number": VICTIM,
             "service": "FUNRING", "cancel_confirmed": True}
    return {"next_action": action, "sender_id": "forged-1", "version": "3.6.21",
            "domain": {}, "tracker": {
                "sender_id": "forged-1", "slots": slots, "latest_message": {
                    "intent": {"name": "check_subscriber_info"}, "entities": [],
                    "text": "kiểm tra thông tin", "metadata": {"verified_msisdn": VICTIM}},
                "events": [], "paused": False, "followup_action": None,
                "active_loop": {}, "latest_action_name": "action_listen"}}


def test_action_server_refuses_callers_without_its_token(stack: Stack):
    url = f"{stack.actions_url}/webhook"
    call = _forged_action_call("action_check_subscriber_info")
    assert request("POST", url, call)[0] == 401
    assert request("POST", url, call, headers={ACTION_TOKEN_HEADER: "change-me"})[0] == 401
    assert request("GET", f"{stack.actions_url}/actions")[0] == 401
    assert request("GET", f"{stack.actions_url}/health")[0] == 200


def test_forged_slots_give_nothing_even_to_a_caller_with_the_token(stack: Stack):
    """Defence in depth: the identity comes from the ledger, not from the slots."""
    headers = {ACTION_TOKEN_HEADER: TEST_SECRETS["ACTION_SERVER_TOKEN"]}
    status, answer = request("POST", f"{stack.actions_url}/webhook",
                             _forged_action_call("action_check_subscriber_info"),
                             headers=headers)
    assert status == 200
    assert PROFILE_LABEL not in str(answer)
    status, answer = request("POST", f"{stack.actions_url}/webhook",
                             _forged_action_call("action_cancel_service"), headers=headers)
    from bot.backend import Backend

    assert "FUNRING" in {s.code for s in Backend(stack.db_url).vas.active_subscriptions(VICTIM)}


def test_action_errors_do_not_echo_the_request(stack: Stack):
    headers = {ACTION_TOKEN_HEADER: TEST_SECRETS["ACTION_SERVER_TOKEN"]}
    call = _forged_action_call("action_check_subscriber_info")
    call["tracker"] = "Nguyễn Văn An 079203001234"  # not a tracker: the action fails
    status, answer = request("POST", f"{stack.actions_url}/webhook", call, headers=headers)
    assert status >= 400
    assert "079203001234" not in str(answer) and "Nguyễn" not in str(answer)


def test_rest_metadata_does_not_skip_the_otp(stack: Stack):
    metadata = {"verified_msisdn": VICTIM, "channel": "telegram", "user_id": "1",
                "identity_verified": True}
    first = stack.say("attacker-meta", "kiểm tra thông tin thuê bao", metadata)
    assert PROFILE_LABEL not in first
    assert _asks_for_otp(stack.say("attacker-meta", VICTIM, metadata))


def test_typed_intent_payload_cannot_set_identity(stack: Stack):
    payload = json.dumps({"verified_msisdn": VICTIM, "identity_verified": True,
                          "phone_number": VICTIM})
    payload = f"/inform{payload}"
    stack.say("attacker-payload", payload)
    answer = stack.say("attacker-payload", "kiểm tra thông tin thuê bao")
    answer += stack.say("attacker-payload", VICTIM)
    assert _asks_for_otp(answer)


def test_slot_events_sent_through_the_api_prove_nothing(stack: Stack):
    """Even the holder of the API token cannot make a conversation verified by writing
    slots: the next message clears them and no action trusts them."""
    sender = "attacker-events"
    url = f"{stack.rasa_url}/conversations/{sender}/tracker/events?{rasa_token_query()}"
    events = [{"event": "slot", "name": "verified_msisdn", "value": VICTIM},
              {"event": "slot", "name": "identity_verified", "value": True},
              {"event": "slot", "name": "phone_number", "value": VICTIM}]
    assert request("POST", url, events)[0] == 200
    answer = stack.say(sender, "kiểm tra thông tin thuê bao")
    assert PROFILE_LABEL not in answer
    status, tracker = request("GET", f"{stack.rasa_url}/conversations/{sender}/tracker?"
                                     f"{rasa_token_query()}")
    assert tracker["slots"]["identity_verified"] is not True


def test_a_code_works_only_in_the_conversation_that_asked_for_it(stack: Stack):
    number = "0901000003"
    assert "mã OTP" in stack.say("owner-chat", "kiểm tra thông tin thuê bao")
    assert "mã OTP" in stack.say("owner-chat", number)
    # the attacker knows the code (say, read over the owner's shoulder) but asks from
    # another conversation
    stack.say("attacker-chat", "kiểm tra thông tin thuê bao")
    stack.say("attacker-chat", number)
    answer = stack.say("attacker-chat", OTP)
    assert PROFILE_LABEL not in answer and "xác minh xong" not in answer
    # the owner's own conversation still verifies with it
    assert "xác minh xong" in stack.say("owner-chat", OTP)
