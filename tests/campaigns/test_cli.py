"""`bot campaign ...`: create, list, start, pause, resume, run-once, report, export-sms,
with Vietnamese staff texts."""

from __future__ import annotations

import csv

import pytest

from bot.cli import main
from tests.campaigns.conftest import TG_NUMBER


@pytest.fixture
def cli_db(backend, linked, monkeypatch, clock):
    """The CLI builds its own stores on BOT_DB_URL (the seeded backend's database); the
    real clock would put the test outside sending hours at night, so run-once is not
    asserted on sends here (the engine tests do)."""
    return backend


def test_create_list_start_pause_resume_report_export(cli_db, capsys, tmp_path):
    assert main(["campaign", "create", "Nhắc NĐ49", "--deadline", "31/12/2026",
                 "--province", "Cần Thơ", "--missing", "name_match",
                 "--channels", "telegram", "--rate", "10"]) == 0
    assert "Đã tạo chiến dịch #1" in capsys.readouterr().out
    assert main(["campaign", "list"]) == 0
    out = capsys.readouterr().out
    assert "Nhắc NĐ49" in out and "Nháp" in out and "10/phút" in out
    assert main(["campaign", "pause", "1"]) == 1  # a draft cannot be paused
    assert "không thể" in capsys.readouterr().out
    assert main(["campaign", "start", "1"]) == 0
    assert main(["campaign", "pause", "1"]) == 0
    assert "Tạm dừng" in capsys.readouterr().out
    assert main(["campaign", "run-once", "1"]) == 0
    assert "không ở trạng thái đang chạy" in capsys.readouterr().out
    assert main(["campaign", "resume", "1"]) == 0
    path = tmp_path / "sms.csv"
    assert main(["campaign", "export-sms", "1", "--out", str(path)]) == 0
    numbers = [row["msisdn"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    assert sorted(numbers) == ["0902302962", "0905325604"]  # a Zalo chat only, no chat
    assert main(["campaign", "report", "1"]) == 0
    out = capsys.readouterr().out
    assert "Báo cáo chiến dịch #1" in out and "Khách hàng trong tập mục tiêu: 3" in out
    assert TG_NUMBER not in out  # no personal data on the terminal


def test_create_refuses_unknown_items_and_responses(cli_db, capsys):
    assert main(["campaign", "create", "x", "--deadline", "1/1", "--missing", "shoe"]) == 2
    assert main(["campaign", "create", "x", "--deadline", "1/1",
                 "--response", "utter_nope"]) == 2
    assert capsys.readouterr().err.count("Giá trị không hợp lệ") == 2
    with pytest.raises(SystemExit):
        main(["campaign", "report", "99"])
