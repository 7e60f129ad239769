"""The hold-out set stays independent of the training data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.text import fold

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "tests" / "nlu" / "holdout.yml"
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def key(text: str) -> str:
    plain = _ANNOTATION.sub(r"\1", text)
    return " ".join(fold(re.sub(r"[^\w\s]", " ", plain)).split())


def examples_of(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for block in doc.get("nlu") or []:
        ex = block.get("examples")
        if isinstance(ex, str):
            out += [line[2:] for line in ex.splitlines() if line.startswith("- ")]
        elif isinstance(ex, list):
            out += [e["text"] if isinstance(e, dict) else str(e) for e in ex]
    return out


# Every hold-out text, even a one-word answer such as "có", stays out of the training data.
MIN_WORDS = 1


@pytest.mark.skipif(not HOLDOUT.exists(), reason="no hold-out set")
def test_no_holdout_text_in_training_data() -> None:
    train = {key(t) for p in sorted((ROOT / "data").rglob("*.yml")) for t in examples_of(p)}
    held = [t for t in examples_of(HOLDOUT) if len(key(t).split()) >= MIN_WORDS]
    assert len(held) > 100 and len(train) > 100
    leaked = [t for t in held if key(t) in train]
    assert leaked == [], (
        f"{len(leaked)} hold-out examples (>= {MIN_WORDS} words) are also training examples "
        "(compared without diacritics/punctuation); remove them from data/nlu: "
        + "; ".join(leaked[:20]))
