"""`bot data ...` on a copy of the repository: add an example / a response variation as a
pending change with the same checks, list, show, apply, discard; `bot data validate`
explains the lint's findings in Vietnamese with file:line."""

from __future__ import annotations

from bot.cli import main


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(["data", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_add_example_list_apply(repo_copy, capsys):
    code, out = _run(capsys, "add-example", "cancel_service", "ad ơi huỷ giúp e cái nhạc chờ nha",
                     "--entity", "service=nhạc chờ=FUNRING")
    assert code == 0, out
    assert "Đã tạo thay đổi" in out
    assert "+    - ad ơi huỷ giúp e cái [nhạc chờ](service) nha" in out
    code, out = _run(capsys, "list")
    change_id = out.split()[0]
    assert "cancel_service" in out and code == 0
    code, out = _run(capsys, "show", change_id)
    assert code == 0 and "04_services.yml" in out
    code, out = _run(capsys, "apply", change_id)
    assert code == 0 and "Đã áp dụng" in out and "data/nlu/04_services.yml:" in out
    assert "ad ơi huỷ giúp e cái [nhạc chờ](service) nha" in (
        repo_copy / "data/nlu/04_services.yml").read_text(encoding="utf-8")
    code, out = _run(capsys, "list")
    assert "Không có thay đổi nào" in out


def test_add_example_refused_or_flagged(repo_copy, capsys):
    code, out = _run(capsys, "add-example", "greet", "Tôi muốn tìm cửa hàng gần nhà")
    assert code == 1 and "LỖI" in out and "Mâu thuẫn" in out and "find_store" in out
    code, out = _run(capsys, "add-example", "greet", "chào em", "--entity", "service=xyz")
    assert code == 2 and "không có trong câu" in out
    code, out = _run(capsys, "add-example", "greet", "chào em", "--entity", "service")
    assert code == 2 and "--entity" in out
    code, out = _run(capsys, "apply", "--all")
    assert code == 1 and "chưa áp dụng được" in out
    before = (repo_copy / "data/nlu/01_shared.yml").read_text(encoding="utf-8")
    assert "- Tôi muốn tìm cửa hàng gần nhà\n" not in before.split("intent: find_store")[0]
    code, out = _run(capsys, "list")
    change_id = out.split()[0]
    code, out = _run(capsys, "discard", change_id)
    assert code == 0 and "Đã bỏ" in out


def test_add_response(repo_copy, capsys):
    code, out = _run(capsys, "add-response", "utter_goodbye", "Dạ, chào anh/chị, hẹn gặp lại ạ!")
    assert code == 0, out
    code, out = _run(capsys, "apply", "--all")
    assert code == 0 and "domain.yml:" in out
    code, out = _run(capsys, "add-response", "utter_goodbye", "Hen gap lai {hotlinee}")
    assert code == 1 and "Biến hotlinee không dùng được" in out


def test_validate_explains_in_vietnamese_with_file_and_line(repo_copy, capsys):
    code, out = _run(capsys, "validate", "--no-rasa")
    assert code == 0, out
    assert "make validate: dữ liệu hợp lệ." in out
    # a duplicate across two intents, typed by hand into data/
    path = repo_copy / "data/nlu/01_shared.yml"
    text = path.read_text(encoding="utf-8").replace(
        "- intent: greet\n  examples: |\n",
        "- intent: greet\n  examples: |\n    - Tôi muốn tìm cửa hàng gần nhà\n", 1)
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    - Tôi muốn tìm cửa hàng gần nhà") + 1
    code, out = _run(capsys, "validate", "--no-rasa")
    assert code == 1
    assert "Câu ví dụ 'Tôi muốn tìm cửa hàng gần nhà' nằm ở 2 ý định (find_store, greet)" in out
    assert f"data/nlu/01_shared.yml:{line}" in out
    assert "make validate: có 1 lỗi" in out


def test_validate_checks_pending_changes(repo_copy, capsys):
    _run(capsys, "add-example", "greet", "Tôi muốn tìm cửa hàng gần nhà")
    code, out = _run(capsys, "validate", "--no-rasa")
    assert code == 1 and ".data/designer/changes/" in out and "Mâu thuẫn" in out
