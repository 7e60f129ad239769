"""The designers' YAML files, edited as text (comments, order and style kept): where an
intent's examples are, how an example line is written, where a response's variations end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.designer.conversations import Entity

_INTENT = re.compile(r"^- intent:\s*(\S+)\s*$")


@dataclass(frozen=True)
class Location:
    path: Path
    line: int  # 1-based line of `- intent: X` / `  utter_x:`


def nlu_files(root: Path) -> list[Path]:
    return sorted((root / "data" / "nlu").glob("*.yml"))


def find_intent(root: Path, intent: str) -> Location | None:
    """The topic file (and line) that holds the examples of `intent` (`faq/x` too)."""
    for path in nlu_files(root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _INTENT.match(line)
            if match and match.group(1) == intent:
                return Location(path, number)
    return None


def annotate(text: str, entities: Sequence[Entity], synonyms: dict[str, str] | None = None,
             *, always_json: bool = False) -> str:
    """Rasa's markup: `[span](entity)` when the span is the value (or a known synonym of
    it), else `[span]{"entity": "e", "value": "v"}`."""
    synonyms = synonyms or {}
    out, pos = "", 0
    for ent in sorted(entities, key=lambda e: e.start):
        if ent.start < pos or ent.end > len(text):
            continue
        span = text[ent.start:ent.end]
        value = ent.value or span
        plain = value == span or synonyms.get(span.lower()) == value
        if plain and not (always_json and value != span):
            markup = f"[{span}]({ent.entity})"
        else:
            markup = "[" + span + "]" + json.dumps({"entity": ent.entity, "value": value},
                                                    ensure_ascii=False)
        out += text[pos:ent.start] + markup
        pos = ent.end
    return out + text[pos:]


def clean_text(text: str) -> str:
    """One line, single spaces, no markup characters a YAML example line cannot hold."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def insert_example(path: Path, intent: str, line: str) -> int:
    """Add `line` (already marked up) as the last example of `intent` in `path`; returns
    the 1-based line number written. ValueError when the intent is not there."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, raw in enumerate(lines)
                  if (m := _INTENT.match(raw.rstrip("\n"))) and m.group(1) == intent), None)
    if start is None:
        raise ValueError(f"intent {intent} is not in {path}")
    last, indent = None, "    "
    for i in range(start + 1, len(lines)):
        raw = lines[i].rstrip("\n")
        if raw.startswith("- ") or (raw and not raw.startswith(" ") and not raw.startswith("#")):
            break
        stripped = raw.lstrip(" ")
        if stripped.startswith("- "):
            last, indent = i, raw[:len(raw) - len(stripped)]
    if last is None:
        raise ValueError(f"intent {intent} has no examples block in {path}")
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, f"{indent}- {line}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return last + 2


def find_response(domain_file: Path, name: str) -> Location | None:
    for number, line in enumerate(domain_file.read_text(encoding="utf-8").splitlines(), 1):
        if line.rstrip() == f"  {name}:":
            return Location(domain_file, number)
    return None


def insert_variation(domain_file: Path, name: str, text: str) -> int:
    """Add `- text: "..."` as the last variation of response `name` in domain.yml."""
    lines = domain_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, raw in enumerate(lines) if raw.rstrip() == f"  {name}:"), None)
    if start is None:
        raise ValueError(f"response {name} is not in {domain_file}")
    end = start + 1
    while end < len(lines):
        raw = lines[end].rstrip("\n")
        if raw.strip() and not raw.startswith("  - ") and not raw.startswith("    "):
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep the blank lines after the response where they were
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, "  - text: " + json.dumps(text, ensure_ascii=False) + "\n")
    domain_file.write_text("".join(lines), encoding="utf-8")
    return end + 1


def line_of(path: Path, needle: str) -> int | None:
    """1-based number of the first line containing `needle`."""
    if not path.exists():
        return None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    return None
