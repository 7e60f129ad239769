"""`bot data validate` (what `make validate` runs): `rasa data validate` and the NLU lint
(`bot nlu lint`), explained in Vietnamese with the file and line, then the checks of every
pending change (`.data/designer/changes/`).

- Rasa's lines are matched against `rasa_messages` of texts.yml (a regular expression per
  common error, its Vietnamese meaning, where to find the line); an unknown line is shown
  as Rasa printed it, and counted when Rasa failed.
- The lint's problems are read back with the templates of bot/nlu/lint_messages.yml (each
  `{placeholder}` becomes a group), so the lint keeps its own messages and we translate
  `lint_messages` of texts.yml; the line is found in the data.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.designer.changes import ChangeStore, find_example_line
from bot.designer.nlu_files import find_intent, line_of, nlu_files
from bot.designer.texts import designer_texts

_LOG_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[ ,.\d]*\s+(?P<level>[A-Z]+)\s+\S+\s+-\s+")
_WARNING_PREFIX = re.compile(r"^\S+\.py:\d+: \w*Warning: ")
_ANSI = re.compile(r"\x1b\[[0-9;]*m|\[\d+m")
_PLACEHOLDER = re.compile(r"\\\{(\w+)\\\}")


@dataclass(frozen=True)
class Finding:
    level: str  # error | note
    message: str
    where: str | None
    raw: str = ""
    kind: str = ""  # notes of one kind are shown NOTES_SHOWN at a time

    def render(self) -> str:
        head = f"{self.where}: " if self.where else ""
        label = designer_texts("cli.level_error" if self.level == "error" else "cli.level_warning")
        return f"{label}: {head}{self.message}"


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _locate(root: Path, spec: dict[str, Any] | None, fields: dict[str, str]) -> str | None:
    if not spec:
        line, file = fields.get("line") or fields.get("line2"), fields.get("file") or fields.get(
            "file2")
        return f"{file}:{line}" if file and line else None
    if "path_group" in spec:
        return fields.get(spec["path_group"])
    text = str(spec.get("text", "")).format(**fields)
    files = [root / spec["file"]] if "file" in spec else sorted(root.glob(spec["glob"]))
    for path in files:
        number = line_of(path, text)
        if number is None and "/nlu/" in str(path):
            number = find_example_line(path, text)
        if number is not None:
            return f"{_rel(root, path)}:{number}"
    return None


def explain_rasa_line(root: Path, line: str) -> Finding | None:
    """A Vietnamese finding for one line of `rasa data validate`, None for noise (progress
    bars, INFO lines, warnings of libraries other than Rasa's validator)."""
    text = _ANSI.sub("", line).strip()
    prefix = _LOG_PREFIX.match(text)
    level_word = prefix.group("level") if prefix else ""
    text = _LOG_PREFIX.sub("", text)
    warning = _WARNING_PREFIX.match(text)
    if warning and ("/rasa/" not in warning.group(0) or "UserWarning" not in warning.group(0)):
        return None  # a library's deprecation notice, not a finding about the data
    is_warning = bool(warning)
    text = _WARNING_PREFIX.sub("", text)
    if not text or (not prefix and not is_warning and not re.search(r"\.ya?ml|line \d+", text)):
        return None
    if level_word in ("INFO", "DEBUG"):
        return None
    for entry in designer_texts.raw("rasa_messages"):
        match = re.search(entry["pattern"], text)
        if match:
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            message = str(entry["message"]).format_map(_Default(fields))
            return Finding(entry["level"], message, _locate(root, entry.get("find"), fields),
                           text, kind=f"rasa:{entry['pattern']}")
    return Finding("error" if level_word in ("ERROR", "CRITICAL") else "note",
                   designer_texts("validate.unknown_rasa", line=text), None, text)


class _Default(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def run_rasa_validate(root: Path) -> tuple[int, list[str]]:
    rasa = Path(sys.executable).with_name("rasa")
    command = [str(rasa), "data", "validate", "--config", "config.yml", "--domain",
               "domain.yml", "--data", "data", "--fail-on-warnings"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    return proc.returncode, (proc.stdout + "\n" + proc.stderr).splitlines()


# ------------------------------------------------------------------ the lint
def _template_regex(template: str) -> re.Pattern[str]:
    seen: set[str] = set()

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return f"(?P={name})"
        seen.add(name)
        return f"(?P<{name}>.+?)"

    return re.compile("^" + _PLACEHOLDER.sub(group, re.escape(template)) + "$", re.S)


def _lint_templates() -> dict[str, re.Pattern[str]]:
    from bot.nlu.lint import MESSAGES

    return {key: _template_regex(str(value)) for key, value in MESSAGES.data().items()}


def _translate(message: str, templates: dict[str, re.Pattern[str]]) -> tuple[str | None,
                                                                          dict[str, str]]:
    for key, pattern in templates.items():
        match = pattern.match(message)
        if match:
            return key, match.groupdict()
    return None, {}


def explain_lint(root: Path, problems: Iterable[Any]) -> list[Finding]:
    templates = _lint_templates()
    vietnamese = designer_texts.raw("lint_messages")
    findings = []
    for problem in problems:
        key, fields = _translate(problem.message, templates)
        if key == "entity_problem":
            inner, inner_fields = _translate(fields.get("problem", ""), templates)
            if inner in vietnamese:
                fields["problem"] = str(vietnamese[inner]).format_map(_Default(inner_fields))
        message = (str(vietnamese[key]).format_map(_Default(fields)) if key in vietnamese
                   else problem.message)
        findings.append(Finding("error", message, _lint_where(root, key, fields), problem.message))
    return findings


def _lint_where(root: Path, key: str | None, fields: dict[str, str]) -> str | None:
    if key in ("too_few", "no_plain", "no_teencode", "no_long"):
        location = find_intent(root, fields.get("intent", ""))
        return f"{_rel(root, location.path)}:{location.line}" if location else None
    if key in ("duplicate", "entity_problem"):
        files = nlu_files(root)
        if key == "entity_problem":
            files = [p for p in files if p.name == fields.get("source")] or files
        for path in files:
            number = find_example_line(path, fields.get("example", ""))
            if number:
                return f"{_rel(root, path)}:{number}"
    if key == "teencode_collision":
        from bot.nlu.normalize import TEENCODE_FILE

        path = Path(TEENCODE_FILE)
        number = line_of(path, f"{fields.get('key')}:")
        return f"{_rel(root, path)}:{number}" if number else None
    return None


def lint_findings(root: Path) -> list[Finding]:
    import warnings

    from bot.nlu.lint import lint_paths

    with warnings.catch_warnings():  # libraries' deprecation notices while loading
        warnings.simplefilter("ignore", DeprecationWarning)
        problems = lint_paths([root / "data" / "nlu"])
    return explain_lint(root, problems)


def pending_findings(store: ChangeStore) -> list[Finding]:
    pending = store.pending()
    findings = []
    for change in pending:
        for flag in store.recheck(change, pending):
            findings.append(Finding("error" if flag.level == "error" else "note",
                                    flag.message, f"{_rel(store.root, store._path(change.id))}"))
    return findings


NOTES_SHOWN = 3


def validate(root: Path, *, rasa: bool = True, out: Any = None,
             all_notes: bool = False) -> int:
    """Print the findings; returns the number of errors (0: valid)."""
    out = out or sys.stdout
    errors = 0
    if rasa:
        print(designer_texts("validate.header_rasa"), file=out)
        code, lines = run_rasa_validate(root)
        findings = [f for f in (explain_rasa_line(root, line) for line in lines) if f]
        errors += _print(findings, out, all_notes)
        if code != 0 and not any(f.level == "error" for f in findings):
            errors += 1
            for line in lines[-15:]:
                print(designer_texts("validate.raw", line=line), file=out)
    print(designer_texts("validate.header_lint"), file=out)
    errors += _print(lint_findings(root), out)
    store = ChangeStore(root)
    print(designer_texts("validate.header_pending", count=len(store.pending())), file=out)
    errors += _print(pending_findings(store), out)
    print(designer_texts("validate.failed", count=errors) if errors
          else designer_texts("validate.passed"), file=out)
    return errors


def _print(findings: list[Finding], out: Any, all_notes: bool = False) -> int:
    if not any(f.level == "error" for f in findings):
        print("  " + designer_texts("validate.ok"), file=out)
    seen: set[str] = set()
    notes: dict[str, int] = {}
    for finding in sorted(findings, key=lambda f: f.level != "error"):
        text = finding.render()
        if text in seen:
            continue
        seen.add(text)
        if finding.level == "note" and finding.kind and not all_notes:
            notes[finding.kind] = notes.get(finding.kind, 0) + 1
            if notes[finding.kind] > NOTES_SHOWN:
                continue
        print("  " + text, file=out)
    for count in notes.values():
        if count > NOTES_SHOWN:
            print("  " + designer_texts("validate.more_notes", count=count - NOTES_SHOWN),
                  file=out)
    return sum(1 for f in findings if f.level == "error")
