"""`bot data validate` (make validate): Rasa's and the lint's findings explained in
Vietnamese with the file and line; library noise dropped; failures fail."""

from __future__ import annotations

import io

from bot.designer.validate import explain_rasa_line, validate

SITE = "/x/.venv/lib/python3.10/site-packages"
# Lines exactly as `rasa data validate` 3.6 prints them (colour codes included).
RASA_LINES = {
    "missing_nlu": f"\x1b[93m{SITE}/rasa/shared/utils/io.py:100: UserWarning: The intent "
                   "'hoi_gio_mo_cua' is listed in the domain file, but is not found in the NLU "
                   "training data.",
    "bad_action": f"{SITE}/rasa/shared/utils/io.py:100: UserWarning: The action 'utter_khong_co' "
                  "is used in the stories, but is not a valid utterance action. Please make sure "
                  "the action is listed in your domain and there is a template defined with its "
                  "name.",
    "unused": f"{SITE}/rasa/shared/utils/io.py:100: UserWarning: The utterance 'utter_greet' is "
              "not used in any story or rule.",
    "faq": f"\x1b[93m{SITE}/rasa/shared/utils/io.py:100: UserWarning: The following duplicated "
           "intents have been found across multiple domain files: faq",
}
NOISE = [
    "\x1b[0m2026-11-30 14:03:28 INFO     rasa.validator  - Validating intents...",
    f"{SITE}/tensorflow/lite/python/util.py:52: DeprecationWarning: jax.xla_computation is "
    "deprecated. Please use the AOT APIs.",
    f"{SITE}/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to "
    "`pkg_resources.declare_namespace('ruamel')`.",
    "Processed story blocks: 100%|##########| 14/14",
    "  More info at https://rasa.com/docs/rasa/domain",
]


def test_rasa_lines_in_vietnamese_with_file_and_line(repo_copy):
    domain = (repo_copy / "domain.yml").read_text(encoding="utf-8").splitlines()
    greet_line = domain.index("  utter_greet:") + 1
    unused = explain_rasa_line(repo_copy, RASA_LINES["unused"])
    assert unused is not None and unused.level == "note"
    assert unused.where == f"domain.yml:{greet_line}"
    assert "Câu trả lời 'utter_greet' không có trong câu chuyện" in unused.message
    bad = explain_rasa_line(repo_copy, RASA_LINES["bad_action"])
    assert bad is not None and bad.level == "error" and "utter_khong_co" in bad.message
    assert "chưa khai báo trong domain.yml" in bad.message
    missing = explain_rasa_line(repo_copy, RASA_LINES["missing_nlu"])
    assert missing is not None and missing.level == "error"
    assert missing.message.startswith("Ý định 'hoi_gio_mo_cua' có trong domain.yml")
    faq = explain_rasa_line(repo_copy, RASA_LINES["faq"])
    assert faq is not None and faq.level == "note"
    for line in NOISE:
        assert explain_rasa_line(repo_copy, line) is None, line


def test_real_rasa_validate_on_broken_data(repo_copy):
    """One real `rasa data validate` run: a rule with an unknown response, an intent without
    examples; both reported in Vietnamese at their file:line, and the run fails."""
    rules = repo_copy / "data/rules/general.yml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n- rule: designer test broken\n"
                     "  steps:\n  - intent: greet\n  - action: utter_khong_co\n",
                     encoding="utf-8")
    domain = repo_copy / "domain.yml"
    domain.write_text(domain.read_text(encoding="utf-8").replace(
        "  - resend_otp\n", "  - resend_otp\n  - hoi_gio_mo_cua\n", 1), encoding="utf-8")
    out = io.StringIO()
    errors = validate(repo_copy, out=out)
    text = out.getvalue()
    rule_line = rules.read_text(encoding="utf-8").splitlines().index(
        "  - action: utter_khong_co") + 1
    assert errors == 2, text
    assert (f"LỖI: data/rules/general.yml:{rule_line}: Hành động 'utter_khong_co' được dùng"
            in text), text
    intent_line = domain.read_text(encoding="utf-8").splitlines().index(
        "  - hoi_gio_mo_cua") + 1
    assert f"LỖI: domain.yml:{intent_line}: Ý định 'hoi_gio_mo_cua'" in text
    assert "make validate: có 2 lỗi" in text
    assert "DeprecationWarning" not in text and "Processed" not in text
