"""The endpoints files as Rasa reads them: every ${VARIABLE} is filled from the
environment (a quoted "${...}" is not: Rasa would send the literal text), and the action
server's token travels in a header."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.utils import AvailableEndpoints

from tests.servers import ACTION_TOKEN_HEADER

REPO = Path(__file__).resolve().parents[2]
ENV = {"ACTION_SERVER_TOKEN": "token-from-the-environment-0123456789abcdef",
       "ACTION_ENDPOINT_URL": "http://actions.internal:5055/webhook",
       "TRACKER_DB_URL": "postgresql://rasa@db/rasa", "LOCK_STORE_URL": "redis://redis:6379/1"}


@pytest.mark.parametrize("path", ["endpoints.yml", "deploy/endpoints.prod.yml"])
def test_endpoints_are_filled_from_the_environment(monkeypatch, path):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    endpoints = AvailableEndpoints.read_endpoints(str(REPO / path))
    action = endpoints.action
    assert "${" not in action.url
    assert action.headers == {ACTION_TOKEN_HEADER: ENV["ACTION_SERVER_TOKEN"]}
    assert "token" not in (action.params or {})  # never in the URL
    # responses are not repeated word for word (bot/nlg.py)
    assert endpoints.nlg.type == "bot.nlg.VariedResponses"
    if path.startswith("deploy/"):
        assert action.url == ENV["ACTION_ENDPOINT_URL"]
