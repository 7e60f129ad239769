"""Pending changes: what designers propose, waiting for review in
`.data/designer/changes/<id>.yml` (designer.yml `changes_dir`, BOT_DESIGNER_CHANGES_DIR),
never written into `data/` until `bot data apply` (docs/designers.md, "Vòng cải tiến").

Three kinds, each one YAML file a person can read and edit before applying:
- `example`: an NLU example for an intent, with entities; written to the topic file that
  holds the intent (`data/nlu/NN_<topic>.yml`) as one marked-up example line;
- `response`: a new variation of a domain response (`domain.yml`);
- `story`: a reviewed conversation as an end-to-end test story
  (designer.yml `stories_file`, `tests/stories/test_designer.yml`).

Checks (`check`), run when a change is proposed, by `bot data validate` (`make
validate`) and again by `bot data apply`: an example already in the data ("covered"),
the same sentence under another intent ("contradiction", what `bot nlu lint` calls a
duplicate), the same sentence with other entity values ("covered" as a pattern), entity
values the lint refuses, unknown intents / entities / responses, variables a response
variation cannot fill. Problems of level `error` stop `apply` (unless forced).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.designer.config import changes_dir, config, repo_root
from bot.designer.conversations import Entity
from bot.designer.nlu_files import (
    annotate,
    find_intent,
    find_response,
    insert_example,
    insert_variation,
    nlu_files,
)
from bot.designer.texts import designer_texts
from bot.text import fold

KINDS = ("example", "response", "story")
_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class Flag:
    level: str  # error | warning
    code: str
    message: str  # Vietnamese, with file:line when there is one

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "message": self.message}


@dataclass
class Change:
    id: str
    kind: str
    author: str
    created_at: str
    body: dict[str, Any]
    flags: list[Flag] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(f.level == "error" for f in self.flags)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "author": self.author,
                "created_at": self.created_at, **self.body,
                "flags": [f.as_dict() for f in self.flags]}


class ChangeError(ValueError):
    """A change that cannot be made: the message is Vietnamese."""


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def domain_of(root: Path) -> dict[str, Any]:
    with open(root / "domain.yml", encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh) or {}
    return data


def entity_names(domain: dict[str, Any]) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else str(e)
            for e in domain.get("entities") or []}


def intent_names(domain: dict[str, Any]) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or []}


# ------------------------------------------------------------------ checks
def _key(text: str) -> str:
    """How the lint compares examples: folded, punctuation ignored."""
    return fold(re.sub(r"[^\w\s]", " ", text)) or " ".join(text.split())


def _pattern_key(text: str, entities: Iterable[tuple[str, int, int]]) -> str:
    out, pos = "", 0
    for entity, start, end in sorted(entities, key=lambda e: e[1]):
        out += text[pos:start] + f" ENTITY{entity.upper()} "
        pos = end
    return _key(out + text[pos:])


@dataclass(frozen=True)
class Known:
    label: str
    text: str
    source: Path
    pattern: str


def _known_examples(root: Path) -> tuple[list[Known], dict[str, str]]:
    """The examples of data/nlu (read by the lint's own loader) and the synonyms."""
    from bot.nlu.lint import load_items

    items, synonyms = load_items(nlu_files(root))
    known = []
    for item in items:
        spans, pos = [], 0
        for entity, _value, span in item.entities:
            start = item.text.find(span, pos)
            if start >= 0:
                spans.append((entity, start, start + len(span)))
                pos = start + len(span)
        known.append(Known(item.label, item.text, root / "data" / "nlu" / item.source,
                           _pattern_key(item.text, spans)))
    return known, synonyms


def check_example(root: Path, intent: str, text: str, entities: Sequence[Entity],
                  *, known: list[Known] | None = None,
                  synonyms: dict[str, str] | None = None,
                  others: Iterable[Change] = ()) -> list[Flag]:
    from bot.nlu.lint import Item, check_entities

    flags: list[Flag] = []
    domain = domain_of(root)
    base = intent.split("/")[0]
    if base not in intent_names(domain) or find_intent(root, intent) is None:
        flags.append(Flag("error", "unknown_intent", designer_texts("checks.unknown_intent",
                                                                   intent=intent)))
    if not text.strip():
        flags.append(Flag("error", "empty", designer_texts("checks.empty")))
        return flags
    known_entities = entity_names(domain)
    for ent in entities:
        if ent.entity not in known_entities:
            flags.append(Flag("error", "unknown_entity", designer_texts(
                "checks.unknown_entity", entity=ent.entity, entities=", ".join(sorted(
                    known_entities)))))
    if known is None or synonyms is None:
        known, synonyms = _known_examples(root)
    item = Item(intent, text, "", tuple((e.entity, e.value, text[e.start:e.end])
                                        for e in entities))
    for problem in check_entities([item], synonyms):
        flags.append(Flag("error", "entity_value", designer_texts(
            "checks.entity_value", problem=problem.message)))
    key = _key(text)
    pattern = _pattern_key(text, [(e.entity, e.start, e.end) for e in entities])
    for other in known:
        same_text = _key(other.text) == key
        if not same_text and not (entities and other.pattern == pattern):
            continue
        where = f"{_rel(root, other.source)}:{find_example_line(other.source, other.text) or 1}"
        if same_text:
            code = "covered" if other.label == intent else "contradiction"
            flags.append(Flag("error", code, designer_texts(
                f"checks.{code}", example=other.text, intent=other.label, where=where)))
        elif entities and other.pattern == pattern:
            code = "covered_pattern" if other.label == intent else "contradiction_pattern"
            flags.append(Flag("warning" if other.label == intent else "error", code,
                              designer_texts(f"checks.{code}", example=other.text,
                                             intent=other.label, where=where)))
    for change in others:
        if change.kind == "example" and _key(change.body.get("text", "")) == key:
            same = change.body.get("intent") == intent
            flags.append(Flag("error", "pending_duplicate" if same else "pending_contradiction",
                              designer_texts("checks.pending", id=change.id,
                                             intent=change.body.get("intent"))))
    return flags


def find_example_line(path: Path, text: str) -> int | None:
    """The line of an example, compared without markup."""
    target = _key(text)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("- "):
            plain = re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", stripped[2:])
            if _key(plain) == target:
                return number
    return None


def check_response(root: Path, name: str, text: str) -> list[Flag]:
    from bot.brand import response_variables
    from bot.texts import placeholders

    domain = domain_of(root)
    variations = (domain.get("responses") or {}).get(name)
    if variations is None:
        return [Flag("error", "unknown_response", designer_texts("checks.unknown_response",
                                                                 name=name))]
    flags = []
    if not text.strip():
        flags.append(Flag("error", "empty", designer_texts("checks.empty")))
    allowed = set(response_variables())
    for variation in variations:
        allowed |= set(placeholders(str(variation.get("text") or "")))
    unknown = sorted(set(placeholders(text)) - allowed)
    if unknown:
        flags.append(Flag("error", "variables", designer_texts(
            "checks.variables", names=", ".join(unknown), allowed=", ".join(sorted(allowed)))))
    if any(_key(str(v.get("text") or "")) == _key(text) for v in variations):
        flags.append(Flag("error", "covered_response", designer_texts(
            "checks.covered_response", name=name)))
    if text.strip() and fold(text) == text.lower():
        flags.append(Flag("warning", "no_diacritics", designer_texts("checks.no_diacritics")))
    return flags


def check_story(root: Path, story: str) -> list[Flag]:
    domain = domain_of(root)
    try:
        parsed = yaml.safe_load(story)
        steps = parsed[0]["steps"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return [Flag("error", "story_yaml", designer_texts("checks.story_yaml"))]
    intents = intent_names(domain) | {"nlu_fallback"}
    actions = set(domain.get("actions") or []) | set(domain.get("responses") or {}) | set(
        domain.get("forms") or {})
    flags = []
    for step in steps:
        if "intent" in step and step["intent"] not in intents:
            flags.append(Flag("error", "unknown_intent", designer_texts(
                "checks.unknown_intent", intent=step["intent"])))
        action = step.get("action")
        if action and action not in actions and not action.startswith("action_"):
            flags.append(Flag("warning", "unknown_action", designer_texts(
                "checks.unknown_action", action=action)))
    if any(step.get("intent") == "nlu_fallback" for step in steps):
        flags.append(Flag("warning", "story_fallback", designer_texts("checks.story_fallback")))
    return flags


# ------------------------------------------------------------------ store
class ChangeStore:
    def __init__(self, root: Path | None = None, directory: Path | None = None) -> None:
        self.root = (root or repo_root()).resolve()
        self.directory = directory or changes_dir(self.root)

    def _path(self, change_id: str) -> Path:
        if not _ID.match(change_id):
            raise ChangeError(designer_texts("errors.no_change", id=change_id))
        return self.directory / f"{change_id}.yml"

    def _new_id(self) -> str:
        now = datetime.now(timezone.utc)
        return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"

    def pending(self) -> list[Change]:
        if not self.directory.is_dir():
            return []
        return [self._read(p) for p in sorted(self.directory.glob("*.yml"))
                if _ID.match(p.stem)]

    def get(self, change_id: str) -> Change:
        path = self._path(change_id)
        if not path.exists():
            raise ChangeError(designer_texts("errors.no_change", id=change_id))
        return self._read(path)

    def _read(self, path: Path) -> Change:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        body = {k: v for k, v in data.items()
                if k not in ("id", "kind", "author", "created_at", "flags")}
        flags = [Flag(**f) for f in data.get("flags") or []]
        return Change(str(data.get("id") or path.stem), str(data.get("kind")),
                      str(data.get("author") or ""), str(data.get("created_at") or ""),
                      body, flags)

    def _write(self, change: Change) -> Change:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(change.id)
        header = designer_texts("file_header")
        text = yaml.safe_dump(change.as_dict(), allow_unicode=True, sort_keys=False,
                              width=100)
        path.write_text("".join(f"# {line}\n" for line in header.splitlines()) + text,
                        encoding="utf-8")
        return change

    def discard(self, change_id: str) -> Change:
        change = self.get(change_id)
        self._path(change_id).unlink()
        return change

    # ---------------------------------------------------------- proposing
    def propose_example(self, intent: str, text: str, entities: Sequence[Entity],
                        author: str, source: dict[str, Any] | None = None) -> Change:
        from bot.designer.nlu_files import clean_text

        cleaned = clean_text(text)
        if cleaned != text:  # offsets follow the cleaned text only when nothing moved
            entities = _move_entities(text, cleaned, entities)
        text = cleaned
        location = find_intent(self.root, intent)
        known, synonyms = _known_examples(self.root)
        flags = check_example(self.root, intent, text, entities, known=known,
                              synonyms=synonyms, others=self.pending())
        body: dict[str, Any] = {
            "intent": intent, "text": text,
            "entities": [{"entity": e.entity, "value": e.value, "start": e.start,
                          "end": e.end} for e in entities],
            "target": _rel(self.root, location.path) if location else None,
            "line": annotate(text, entities, synonyms),
        }
        if source:
            body["source"] = source
        return self._write(Change(self._new_id(), "example", author,
                                  datetime.now(timezone.utc).isoformat(), body, flags))

    def propose_response(self, name: str, text: str, author: str) -> Change:
        text = " ".join(text.split())
        flags = check_response(self.root, name, text)
        body = {"response": name, "text": text, "target": "domain.yml"}
        return self._write(Change(self._new_id(), "response", author,
                                  datetime.now(timezone.utc).isoformat(), body, flags))

    def propose_story(self, story: str, author: str,
                      source: dict[str, Any] | None = None) -> Change:
        flags = check_story(self.root, story)
        body: dict[str, Any] = {"target": str(config()["stories_file"]), "story": story}
        if source:
            body["source"] = source
        return self._write(Change(self._new_id(), "story", author,
                                  datetime.now(timezone.utc).isoformat(), body, flags))

    # ---------------------------------------------------------- checking
    def recheck(self, change: Change, others: Iterable[Change] = ()) -> list[Flag]:
        """The checks of `change` against the data as it is now."""
        body = change.body
        if change.kind == "example":
            entities = [Entity(**e) for e in body.get("entities") or []]
            return check_example(self.root, str(body["intent"]), str(body["text"]), entities,
                                 others=[o for o in others if o.id != change.id])
        if change.kind == "response":
            return check_response(self.root, str(body["response"]), str(body["text"]))
        if change.kind == "story":
            return check_story(self.root, str(body["story"]))
        return [Flag("error", "kind", designer_texts("errors.kind", kind=change.kind))]

    def diff(self, change: Change) -> str:
        """What applying would add, as a small unified diff."""
        body = change.body
        if change.kind == "example":
            return f"+++ {body.get('target')}  (intent: {body['intent']})\n+    - {body['line']}\n"
        if change.kind == "response":
            return (f"+++ domain.yml  ({body['response']})\n+  - text: "
                    f"{yaml.safe_dump(body['text'], allow_unicode=True).strip()}\n")
        return f"+++ {body.get('target')}\n" + "".join(
            f"+{line}\n" for line in str(body.get("story", "")).splitlines())

    # ---------------------------------------------------------- applying
    def apply(self, change_id: str, *, force: bool = False) -> tuple[Change, str]:
        """Write one pending change into the repository; returns it and `file:line`."""
        change = self.get(change_id)
        flags = self.recheck(change, self.pending())
        change.flags = flags
        if any(f.level == "error" for f in flags) and not force:
            self._write(change)
            raise ChangeError(designer_texts("errors.blocked", id=change.id) + "\n" + "\n".join(
                f"  - {f.message}" for f in flags if f.level == "error"))
        body = change.body
        if change.kind == "example":
            location = find_intent(self.root, str(body["intent"]))
            if location is None:
                raise ChangeError(designer_texts("checks.unknown_intent", intent=body["intent"]))
            entities = [Entity(**e) for e in body.get("entities") or []]
            _, synonyms = _known_examples(self.root)
            line = insert_example(location.path, str(body["intent"]),
                                  annotate(str(body["text"]), entities, synonyms))
            where = f"{_rel(self.root, location.path)}:{line}"
        elif change.kind == "response":
            domain_file = self.root / "domain.yml"
            if find_response(domain_file, str(body["response"])) is None:
                raise ChangeError(designer_texts("checks.unknown_response",
                                                 name=body["response"]))
            line = insert_variation(domain_file, str(body["response"]), str(body["text"]))
            where = f"domain.yml:{line}"
        else:
            target = self.root / str(body.get("target") or config()["stories_file"])
            where = f"{_rel(self.root, target)}:{_append_story(target, str(body['story']))}"
        self._path(change.id).unlink()
        return change, where


def _append_story(target: Path, story: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_text(designer_texts("stories_header").rstrip("\n") + "\n"
                          'version: "3.1"\nstories:\n', encoding="utf-8")
    existing = target.read_text(encoding="utf-8")
    if not existing.endswith("\n"):
        existing += "\n"
    line = existing.count("\n") + 2
    target.write_text(existing + "\n" + story.rstrip("\n") + "\n", encoding="utf-8")
    return line


def _move_entities(original: str, cleaned: str, entities: Sequence[Entity]) -> list[Entity]:
    """Entity offsets of `original` moved onto `cleaned` (found by their span text)."""
    moved, pos = [], 0
    for ent in sorted(entities, key=lambda e: e.start):
        span = " ".join(original[ent.start:ent.end].replace("[", "(").replace("]", ")").split())
        at = cleaned.find(span, pos)
        if at < 0 or not span:
            continue
        moved.append(Entity(ent.entity, ent.value, at, at + len(span)))
        pos = at + len(span)
    return moved
