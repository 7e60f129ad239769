"""`bot nlu lint` on small temporary data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.nlu.lint import lint_paths

STYLED = [
    "hủy dịch vụ nhạc chờ giúp tôi",
    "huy dich vu nhac cho",
    "ad ơi hủy dv giúp e",
    "chào em, hôm qua tôi thấy tài khoản bị trừ tiền vô lý quá nên muốn hủy dịch vụ đó ngay",
]


def write_nlu(tmp_path: Path, intents: dict[str, list[str]], extra: str = "") -> Path:
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in intents.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {e}" for e in examples]
    path = tmp_path / "nlu.yml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def kinds(problems) -> list[str]:
    return sorted(p.kind for p in problems)


def test_clean_data_passes(tmp_path: Path) -> None:
    path = write_nlu(tmp_path, {"cancel_service": STYLED})
    assert lint_paths([path], min_examples=4) == []
    assert main(["nlu", "lint", "--data", str(path), "--min-examples", "4"]) == 0


def test_same_example_in_two_intents(tmp_path: Path) -> None:
    stop = ["dừng lại", "dung lai", "thôi ko làm nữa",
            "thôi em ơi, chị bận quá rồi, không làm tiếp nữa đâu, để hôm khác chị quay lại",
            "Hủy dịch vụ nhạc chờ giúp tôi!"]
    path = write_nlu(tmp_path, {"cancel_service": STYLED, "stop": stop})
    problems = lint_paths([path], min_examples=4)
    assert kinds(problems) == ["duplicate"]
    assert "cancel_service, stop" in str(problems[0])


def test_emoji_only_examples_are_compared_as_typed(tmp_path: Path) -> None:
    path = write_nlu(tmp_path, {"cancel_service": [*STYLED, "👍"], "stop": ["😡"]})
    assert "duplicate" not in kinds(lint_paths([path], min_examples=1))
    path = write_nlu(tmp_path, {"cancel_service": [*STYLED, "👍"], "stop": ["👍"]})
    assert "duplicate" in kinds(lint_paths([path], min_examples=1))


def test_too_few_examples_and_missing_styles(tmp_path: Path) -> None:
    path = write_nlu(tmp_path, {"greet": ["xin chào", "chào em"]})
    problems = lint_paths([path], min_examples=40)
    text = "\n".join(map(str, problems))
    assert kinds(problems) == ["style", "style", "style", "too-few"]
    assert "has 2 examples; at least 40" in text
    assert "without diacritics" in text and "teencode" in text and "long example" in text


def test_service_value_must_be_a_catalog_code(tmp_path: Path) -> None:
    good = '[nhạc chờ]{"entity": "service", "value": "FUNRING"}'
    bad = "[nhạc chờ vip](service)"
    synonym = "[truyền hình](service)"
    path = write_nlu(tmp_path, {"cancel_service": [*STYLED, f"hủy {good}", f"hủy {bad}",
                                                    f"hủy {synonym}"]},
                     extra="- synonym: MOBITV\n  examples: |\n    - truyền hình\n")
    problems = lint_paths([path], min_examples=4)
    assert kinds(problems) == ["entity"]
    assert "service value 'nhạc chờ vip' is not a catalog code" in str(problems[0])


@pytest.mark.parametrize(
    ("example", "message"),
    [("số [0123](phone_number)", "not a Vietnamese mobile number"),
     ("mã [12345](otp_code)", "not 6 digits"),
     ("cmnd [12345](id_number)", "not 9 or 12 digits"),
     ("tên [An](customer_name)", "not in the NLU contract")],
)
def test_other_entity_values(tmp_path: Path, example: str, message: str) -> None:
    path = write_nlu(tmp_path, {"inform": [*STYLED, example]})
    problems = lint_paths([path], min_examples=4)
    assert kinds(problems) == ["entity"] and message in str(problems[0])


def test_teencode_entry_colliding_with_a_real_word(tmp_path: Path) -> None:
    teencode = tmp_path / "teencode.yml"
    teencode.write_text("teencode:\n  ban: bạn\n  e: em\n  dv: dịch vụ\n", encoding="utf-8")
    path = write_nlu(tmp_path, {"cancel_service": [*STYLED, "tôi muốn bán sim"]})
    problems = lint_paths([path], teencode_file=str(teencode), min_examples=4)
    assert kinds(problems) == ["teencode"]
    assert "'ban'" in str(problems[0]) and "'bán'" in str(problems[0])
    accepted = tmp_path / "teencode-accepted.yml"
    accepted.write_text("teencode:\n  ban: bạn\n  e: em\n  dv: dịch vụ\n"
                        "collisions_ok: [ban]\n", encoding="utf-8")
    assert lint_paths([path], teencode_file=str(accepted), min_examples=4) == []


def test_cli_exit_code_and_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_nlu(tmp_path, {"greet": ["xin chào"]})
    assert main(["nlu", "lint", "--data", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[too-few] intent 'greet' has 1 examples" in out
    assert "problem(s) in the NLU training data" in out


def test_project_data_is_clean() -> None:
    """The real training data passes the lint (what `make validate` runs)."""
    problems = lint_paths(["data/nlu"])
    assert problems == [], "\n".join(map(str, problems))
