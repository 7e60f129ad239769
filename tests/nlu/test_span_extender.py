"""The second pass on span boundaries: a name cut after its first syllable is completed."""

from __future__ import annotations

from pathlib import Path

from bot.nlu.spacy_ner import LearnedNER, Sample
from bot.nlu.span_extender import SpanExtender

TWO = ["hà nội", "đà nẵng", "hạ long", "cần thơ", "đà lạt", "cà mau", "quy nhơn", "rạch giá"]
ONE = ["huế", "vinh", "pleiku"]


def flight(origin: str, destination: str, day: str = "") -> Sample:
    words = ["bay", "từ", *origin.split(), "đến", *destination.split()]
    a = 2
    b = a + len(origin.split())
    c = b + 1
    d = c + len(destination.split())
    spans = [(a, b, "fromloc.city_name"), (c, d, "toloc.city_name")]
    if day:
        words += ["vào", *day.split()]
        spans.append((d + 1, len(words), "depart_date.day_name"))
    return Sample(words, None, "flight", None, spans)


def training() -> list[Sample]:
    out = []
    cities = TWO + ONE
    days = ["thứ hai", "thứ ba", "thứ tư", "chủ nhật"]
    for i, x in enumerate(cities):
        for j in (1, 3, 5):
            y = cities[(i + j) % len(cities)]
            out += [flight(x, y), flight(x, y, days[(i + j) % len(days)])]
    # the second syllables of the unseen names below, used as words on their own
    out += [Sample(["tôi", "cần", "ba", "vé"], None, "flight", None, []),
            Sample(["tôi", "muốn", "đi", "an", "toàn"], None, "flight", None, [])]
    return out


def test_a_name_cut_after_its_first_syllable_is_completed() -> None:
    ext = SpanExtender().fit(training())
    assert ext.trained
    # "ninh ba" and "tây an" never occur; "ba" and "an" are known as other words
    words = ["bay", "từ", "huế", "đến", "ninh", "ba"]
    assert ext.extend(words, [(4, 5, "toloc.city_name"), (2, 3, "fromloc.city_name")]) == [
        (2, 3, "fromloc.city_name"), (4, 6, "toloc.city_name")]
    words = ["bay", "từ", "tây", "an", "đến", "huế", "vào", "thứ", "hai"]
    assert ext.extend(words, [(2, 3, "fromloc.city_name"), (5, 6, "toloc.city_name")]) == [
        (2, 4, "fromloc.city_name"), (5, 6, "toloc.city_name")]


def test_a_whole_name_is_not_extended_and_never_into_the_next_span() -> None:
    ext = SpanExtender().fit(training())
    words = ["bay", "từ", "hà", "nội", "đến", "huế", "vào", "thứ", "hai"]
    spans = [(2, 4, "fromloc.city_name"), (5, 6, "toloc.city_name")]
    assert ext.extend(words, spans) == spans
    # "đến" is not part of a name, and a span stops where the next one starts
    words = ["bay", "từ", "vinh", "đà", "lạt"]
    spans = [(2, 3, "fromloc.city_name"), (3, 5, "toloc.city_name")]
    assert ext.extend(words, spans) == spans


def test_nothing_to_learn_leaves_the_spans_alone() -> None:
    ext = SpanExtender().fit([Sample(["ở", "huế"], None, "find_store", None,
                                     [(1, 2, "location")])])
    assert not ext.trained
    assert ext.extend(["ở", "huế", "nhé"], [(1, 2, "location")]) == [(1, 2, "location")]


def test_the_extender_is_saved_and_used_with_the_ner(tmp_path: Path) -> None:
    cfg = {"width": 32, "depth": 1, "rows": 500, "epochs": 2, "min_updates": 10,
           "hidden_width": 16, "lexicon": False, "ensemble": 1}
    ner = LearnedNER(cfg, {}).train(training())
    assert ner.extender is not None and ner.extender.trained
    ner.to_disk(tmp_path / "ner")
    loaded = LearnedNER.from_disk(tmp_path / "ner", {})
    assert loaded.extender is not None
    words = ["bay", "từ", "huế", "đến", "ninh", "ba"]
    assert (loaded.extender.extend(words, [(4, 5, "toloc.city_name")])
            == ner.extender.extend(words, [(4, 5, "toloc.city_name")])
            == [(4, 6, "toloc.city_name")])
    off = LearnedNER({**cfg, "extend_spans": False}, {}).train(training())
    assert off.extender is None


def test_vote_keeps_what_most_members_found() -> None:
    from bot.nlu.spacy_ner import vote

    a = [(0, 2, "fromloc.city_name"), (3, 4, "toloc.city_name")]
    b = [(0, 2, "toloc.city_name"), (3, 5, "toloc.city_name")]
    c = [(0, 1, "fromloc.city_name"), (3, 4, "toloc.city_name"), (6, 7, "day_name")]
    # same boundaries and type count together, whatever the role; the first label stays
    assert vote([a, b, c]) == [(0, 2, "fromloc.city_name"), (3, 4, "toloc.city_name")]
    assert vote([a]) == a
    assert vote([a, b]) == [(0, 2, "fromloc.city_name")]  # 2 of 2 only
    assert vote([]) == []


def test_an_ensemble_trains_in_processes_like_one_after_the_other(tmp_path: Path) -> None:
    cfg = {"width": 32, "depth": 1, "rows": 500, "epochs": 20, "min_updates": 10,
           "hidden_width": 16, "lexicon": False, "ensemble": 3}
    parallel = LearnedNER({**cfg, "ensemble_processes": 2}, {}).train(training())
    serial = LearnedNER({**cfg, "ensemble_processes": 1}, {}).train(training())
    assert len(parallel.members) == len(serial.members) == 3
    # three seeds: three different NERs
    weights = [m.get_pipe("ner").model.get_ref("tok2vec").to_bytes() for m in serial.members]
    assert len(set(weights)) == 3
    tests = [Sample(s.split(), None, "flight", None, []) for s in
             ("bay từ huế đến hà nội vào thứ hai", "bay từ cà mau đến ninh ba",
              "bay từ đà lạt đến quy nhơn")]
    found = parallel.predict(tests)
    assert found == serial.predict(tests)
    parallel.to_disk(tmp_path / "ner")
    assert sorted(p.name for p in (tmp_path / "ner").iterdir() if p.name.startswith("spacy")) \
        == ["spacy", "spacy_1", "spacy_2"]
    loaded = LearnedNER.from_disk(tmp_path / "ner", {})
    assert len(loaded.members) == 3
    assert loaded.predict(tests) == found
