"""The terminal chat (bot/shell.py): numbered buttons under the text, a typed number taps."""

from __future__ import annotations

import asyncio

from bot import shell

ANSWER = {"text": "Anh/chị xác nhận hủy Nhạc chờ FunRing (9.000 đ / 30 ngày) phải không ạ?",
          "buttons": [{"title": "Đồng ý hủy", "payload": "/affirm"},
                      {"title": "Không hủy", "payload": "/deny"}]}


def test_buttons_are_a_numbered_list_under_the_unchanged_question():
    lines = shell.render(ANSWER).splitlines()
    assert lines[0] == ANSWER["text"]
    assert lines[1:3] == ["  1. Đồng ý hủy", "  2. Không hủy"]
    assert "1–2" in lines[3]
    assert "\x1b" not in shell.render(ANSWER)  # no terminal control codes


def test_one_button_is_not_a_range():
    lines = shell.render({"text": "Em chuyển sang tổng đài viên nhé?",
                          "buttons": [{"title": "Gặp nhân viên tư vấn", "payload": "/x"}]}
                         ).splitlines()
    assert lines[1] == "  1. Gặp nhân viên tư vấn"
    assert "gõ số 1 để chọn" in lines[2] and "1–1" not in lines[2]


def test_a_number_taps_a_button_anything_else_is_free_text():
    buttons = ANSWER["buttons"]
    assert shell.chosen("2", buttons) == "/deny"
    assert shell.chosen(" 1 ", buttons) == "/affirm"
    assert shell.chosen("3", buttons) == "3"  # no such button: sent as typed
    assert shell.chosen("không hủy đâu", buttons) == "không hủy đâu"
    assert shell.chosen("0901000001", buttons) == "0901000001"


def test_input_after_an_answer(monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "1")
    assert asyncio.run(shell.get_user_input(ANSWER)) == "/affirm"
    assert "  2. Không hủy" in capsys.readouterr().out


def test_install_replaces_rasa_shell_input_and_output(monkeypatch):
    from rasa.core.channels import console

    monkeypatch.setattr(console, "_get_user_input", console._get_user_input)
    monkeypatch.setattr(console, "_print_bot_output", console._print_bot_output)
    shell.install()
    assert console._get_user_input is shell.get_user_input
