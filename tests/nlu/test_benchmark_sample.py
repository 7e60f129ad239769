"""Integrity checks for the PhoATIS-style joint intent/slot sample in benchmark_sample/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent / "benchmark_sample"
SPLITS = ("train", "dev", "test")
INTENTS = {"book_table", "find_restaurant", "opening_hours", "cancel_booking", "price"}
SLOTS = {"restaurant_name", "cuisine", "location", "date", "time", "party_size"}


def read_lines(split: str, name: str) -> list[str]:
    text = (ROOT / split / name).read_text(encoding="utf-8")
    assert text.endswith("\n"), f"{split}/{name} must end with a newline"
    lines = text[:-1].split("\n")
    assert all(line.strip() for line in lines), f"{split}/{name} has an empty line"
    return lines


def load(split: str) -> list[tuple[list[str], list[str], str]]:
    seq_in = read_lines(split, "seq.in")
    seq_out = read_lines(split, "seq.out")
    labels = read_lines(split, "label")
    assert len(seq_in) == len(seq_out) == len(labels), split
    return [
        (words.split(" "), tags.split(" "), label)
        for words, tags, label in zip(seq_in, seq_out, labels, strict=True)
    ]


def bio_errors(tags: list[str]) -> list[str]:
    """Return a description of every invalid tag in a BIO sequence (empty when valid)."""
    errors: list[str] = []
    previous = "O"
    for position, tag in enumerate(tags):
        if tag != "O":
            prefix, _, slot = tag.partition("-")
            if prefix not in {"B", "I"} or slot not in SLOTS:
                errors.append(f"{position}: unknown tag {tag}")
            elif prefix == "I" and previous not in {f"B-{slot}", f"I-{slot}"}:
                errors.append(f"{position}: {tag} after {previous}")
        previous = tag
    return errors


def test_bio_checker_rejects_bad_sequences() -> None:
    assert bio_errors(["O", "B-time", "I-time", "B-date"]) == []
    assert bio_errors(["I-time"]) == ["0: I-time after O"]
    assert bio_errors(["B-date", "I-time"]) == ["1: I-time after B-date"]
    assert bio_errors(["B-nonsense"]) == ["0: unknown tag B-nonsense"]


@pytest.mark.parametrize("split", SPLITS)
def test_split_is_aligned_and_bio_valid(split: str) -> None:
    rows = load(split)
    for line_no, (words, tags, label) in enumerate(rows, start=1):
        assert len(words) == len(tags), f"{split}:{line_no} {len(words)} tokens, {len(tags)} tags"
        assert all(words), f"{split}:{line_no} has an empty token (double space)"
        assert " ".join(words) == " ".join(words).lower(), f"{split}:{line_no} not lower-case"
        assert bio_errors(tags) == [], f"{split}:{line_no} {bio_errors(tags)}"
        assert label in INTENTS, f"{split}:{line_no} unknown intent {label}"


@pytest.mark.parametrize(("split", "size"), [("train", 150), ("dev", 30), ("test", 40)])
def test_split_sizes_and_coverage(split: str, size: int) -> None:
    rows = load(split)
    assert len(rows) == size
    assert {label for _, _, label in rows} == INTENTS
    used_slots = {tag[2:] for _, tags, _ in rows for tag in tags if tag != "O"}
    assert used_slots == SLOTS
    assert any(tag.startswith("I-") for _, tags, _ in rows for tag in tags), "no multi-token slot"


def test_no_sentence_leaks_between_splits() -> None:
    sentences = {split: {" ".join(words) for words, _, _ in load(split)} for split in SPLITS}
    assert not sentences["train"] & sentences["test"]
    assert not sentences["train"] & sentences["dev"]
    assert not sentences["dev"] & sentences["test"]
