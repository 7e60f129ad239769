"""No Vietnamese sentence in Python code: text people read is edited where it lives.

A customer's text is a response of domain.yml (read with `bot.texts`), an SMS is in
bot/backend/sms_templates.yml, the words agents and operators read are in YAML message
files next to their code (bot/handoff/texts.yml, bot/nlu/lint_messages.yml). This test
parses every .py file under bot/ and actions/ and fails, naming file:line, for a string
literal that is not a docstring, holds a Vietnamese letter with a diacritic (NFC or NFD)
and at least two words (whitespace-separated pieces with a letter). An f-string counts as
one string (its fields as "{}").

The only exceptions are listed below, each with why it is data rather than a sentence; an
entry that no longer matches anything fails too, so the list stays minimal.
"""

from __future__ import annotations

import ast
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("bot", "actions")

# (path, top-level name) -> why its literals are data, not sentences. A name of None
# allows the whole module; a name allows the literals of that module-level assignment.
DATA: dict[tuple[str, str | None], str] = {
    ("bot/backend/seed_data.py", None):
        "demo reference data of the seeded database: provinces, districts, wards, streets "
        "and the demo stores (names, addresses, opening hours), as they are spelled",
    ("bot/backend/seed.py", None):
        "the demo subscribers `bot db seed` generates: names, addresses, issuing "
        "authorities, nationalities, top-up channels and the demo store names",
    ("bot/backend/migrations/0005_otp_guard.py", "_OLD_OTP_PREFIX"):
        "the start of the OTP SMS older versions stored, matched to mask the codes in "
        "existing rows: a frozen migration's view of old data, sent to no one",
    ("bot/nlu/entities.py", "_ADMIN_PREFIX"):
        "a regular expression of the administrative words customers type before a place "
        "name (quận, thành phố, thị xã...): what the NLU matches, shown to no one",
    ("bot/reference/catalog.py", "CATALOG"):
        "the operator's service catalog: product names and price labels as the operator "
        "spells them, and the names customers use for them (the NLU's aliases)",
}
# Known debt, not exceptions by nature: customer-visible labels still in Python (they move
# to the domain or a YAML file next to the code, and the entry goes). None left: the
# masked profile, Decree-49 item and occupation labels are domain responses now.
PENDING: dict[tuple[str, str | None], str] = {}

_VI_LETTERS = frozenset(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ")


def is_vietnamese_sentence(text: str) -> bool:
    """A Vietnamese letter with a diacritic, and at least two words."""
    text = unicodedata.normalize("NFC", text)
    if not any(ch in _VI_LETTERS for ch in text):
        return False
    words = [piece for piece in text.split() if any(ch.isalpha() for ch in piece)]
    return len(words) >= 2


@dataclass(frozen=True)
class Literal:
    path: str
    line: int
    owner: str | None  # the module-level name it is assigned to, if any
    text: str


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def _owner(statement: ast.stmt) -> str | None:
    targets = (statement.targets if isinstance(statement, ast.Assign)
               else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return names[0] if names else None


def literals(path: Path) -> list[Literal]:
    """Every string literal of the file but its docstrings; an f-string as one string."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = _docstrings(tree)
    relative = path.relative_to(REPO).as_posix()
    found: list[Literal] = []

    def visit(node: ast.AST, owner: str | None) -> None:
        if isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}"
                           for part in node.values)
            found.append(Literal(relative, node.lineno, owner, text))
            for part in node.values:  # expressions inside the fields
                if isinstance(part, ast.FormattedValue):
                    visit(part.value, owner)
                    if part.format_spec is not None:
                        visit(part.format_spec, owner)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            found.append(Literal(relative, node.lineno, owner, node.value))
        for child in ast.iter_child_nodes(node):
            visit(child, owner)

    for statement in tree.body:
        visit(statement, _owner(statement))
    return found


def python_files() -> list[Path]:
    return sorted(p for root in SCANNED for p in (REPO / root).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _allowed(literal: Literal) -> tuple[str, str | None] | None:
    for key in ((literal.path, None), (literal.path, literal.owner)):
        if key in DATA or key in PENDING:
            return key
    return None


def test_the_detector():
    assert is_vietnamese_sentence("Dạ, em chào anh/chị")
    assert is_vietnamese_sentence("Họ tên")
    assert is_vietnamese_sentence(unicodedata.normalize("NFD", "Việt Nam"))
    assert not is_vietnamese_sentence("Nữ")  # one word
    assert not is_vietnamese_sentence("viet nam")  # no diacritic
    assert not is_vietnamese_sentence("o[oó][nc]")  # a pattern, one piece
    assert not is_vietnamese_sentence("café")
    found = literals(Path(__file__))
    assert not any(lit.text == is_vietnamese_sentence.__doc__ for lit in found)  # docstring
    assert any(lit.text == "Dạ, em chào anh/chị" for lit in found)


def test_no_vietnamese_sentence_in_python_code():
    offenders = [f"{lit.path}:{lit.line}: {lit.text[:70]!r}"
                 for path in python_files() for lit in literals(path)
                 if is_vietnamese_sentence(lit.text) and _allowed(lit) is None]
    assert not offenders, (
        "Vietnamese text in Python: a customer's text goes into domain.yml (bot.texts.text), "
        "an SMS into bot/backend/sms_templates.yml, agents' and operators' words into the "
        "YAML message file next to the code (docs/designers.md):\n" + "\n".join(offenders))


@pytest.mark.parametrize("key", [*DATA, *PENDING], ids=lambda key: f"{key[0]}:{key[1]}")
def test_every_exception_is_still_needed(key):
    path, _ = key
    file = REPO / path
    assert file.exists(), f"{path} is gone: remove its entry from this test"
    used = [lit for lit in literals(file)
            if is_vietnamese_sentence(lit.text) and _allowed(lit) == key]
    assert used, f"{key} allows nothing any more: remove the entry from this test"
