"""The full model the Makefile trains with the test config (TEST_MODEL): parse output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MODEL = os.environ.get("TEST_MODEL", "")

pytestmark = pytest.mark.skipif(not MODEL or not Path(MODEL).exists(),
                                reason="TEST_MODEL not set (make test-py trains and sets it)")


@pytest.fixture(scope="module")
def parser():
    from bot.nlu.modeling import Parser

    p = Parser(MODEL)
    yield p
    p.close()


def test_faq_goes_through_the_response_selector(parser) -> None:
    result = parser.parse("cho em hỏi nghị định 49 là gì vậy ạ").raw
    assert result["intent"]["name"] == "faq"
    key = result["response_selector"]["faq"]["response"]["intent_response_key"]
    assert key == "faq/decree_49"


def test_entities_are_normalised(parser) -> None:
    result = parser.parse("số của em là +84 901 234 567").raw
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [
        ("phone_number", "0901234567")]
    result = parser.parse("huy dich vu nhac cho giup em").raw
    assert result["intent"]["name"] == "cancel_service"
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [("service", "FUNRING")]


def test_low_confidence_becomes_fallback(parser) -> None:
    result = parser.parse("xq zk wp").raw
    assert result["intent"]["name"] in ("nlu_fallback", "out_of_scope")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_or_blank_message_is_a_fallback_not_a_crash(parser, text: str) -> None:
    result = parser.parse(text).raw
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["entities"] == []


@pytest.mark.parametrize("text", ["😀😀😀", "???", "xin chào " * 300])
def test_emoji_garbage_and_huge_messages_parse(parser, text: str) -> None:
    result = parser.parse(text).raw
    assert result["intent"]["name"] in {"out_of_scope", "nlu_fallback", "greet"}
