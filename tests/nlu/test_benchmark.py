"""`bot nlu benchmark`: BIO conversion, conlleval scoring, and a run on the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.benchmark import (
    LEARNED,
    Sentence,
    benchmark_config,
    bio_to_entities,
    choose_word_ngrams,
    chunks,
    describe_errors,
    entities_to_bio,
    read_split,
    run_benchmark,
    score_split,
)

SAMPLE = Path(__file__).resolve().parent / "benchmark_sample"


def test_bio_spans_become_character_offsets_and_back() -> None:
    s = Sentence(["đặt", "bàn", "ở", "quận", "1", "lúc", "7", "giờ"],
                 ["O", "O", "O", "B-location", "I-location", "O", "B-time", "I-time"],
                 "book_table")
    ents = bio_to_entities(s)
    assert [(e["entity"], s.text[e["start"]:e["end"]]) for e in ents] == [
        ("location", "quận 1"), ("time", "7 giờ")]
    assert entities_to_bio(s.tokens, ents) == s.tags


def test_chunks_follow_conlleval() -> None:
    assert chunks(["B-a", "I-a", "O", "I-b", "B-b", "B-b"]) == [
        ("a", 0, 1), ("b", 3, 3), ("b", 4, 4), ("b", 5, 5)]
    assert chunks(["B-a", "I-b"]) == [("a", 0, 0), ("b", 1, 1)]


def test_scores_exact_span_and_type() -> None:
    gold = [Sentence(["a", "b", "c"], ["B-x", "I-x", "B-y"], "i1"),
            Sentence(["d"], ["B-z"], "i2")]
    pred_tags = [["B-x", "I-x", "B-x"], ["B-z"]]
    s = score_split(gold, ["i1", "i1"], pred_tags)
    assert s.intent_accuracy == 0.5
    assert (s.slot_precision, s.slot_recall) == (2 / 3, 2 / 3)
    assert s.sentence_accuracy == 0.0  # first: wrong tag, second: wrong intent


def test_errors_name_the_wrong_intent_and_each_missed_or_added_slot() -> None:
    gold = [Sentence(["vé", "đi", "huế", "lúc", "3", "giờ"],
                     ["O", "O", "B-city", "O", "B-time", "I-time"], "book"),
            Sentence(["giá", "vé"], ["O", "O"], "price"),
            Sentence(["vé", "cần", "thơ"], ["O", "B-city", "I-city"], "price")]
    pred_tags = [["O", "O", "B-city", "O", "B-time", "O"], ["O", "O"], ["O", "B-city", "I-city"]]
    blocks = describe_errors("test", gold, ["book", "price", "book"], pred_tags)
    assert blocks == [
        "[test 1] vé đi huế lúc 3 giờ\n  - time: 3 giờ\n  + time: 3",
        "[test 3] vé cần thơ\n  intent: price -> book",
    ]


@pytest.mark.slow
def test_word_ngram_length_is_chosen_by_cross_validation_on_train() -> None:
    fillers = ["tôi cần", "cho hỏi", "xem giúp", "làm ơn", "mình muốn", "bạn ơi", "xin hỏi",
               "giúp mình", "cho tôi", "hỏi chút"]
    # the same words, in another order: only word bigrams tell the two intents apart
    train = [Sentence(f"{f} vé rẻ {k}".split(), ["O"] * (len(f.split()) + 3), "cheap")
             for f in fillers for k in ("nhé", "ạ")]
    train += [Sentence(f"{f} rẻ vé {k}".split(), ["O"] * (len(f.split()) + 3), "other")
              for f in fillers for k in ("nhé", "ạ")]
    best, accuracy = choose_word_ngrams("config.yml", train, choices=(1, 2))
    assert best == 2 and set(accuracy) == {1, 2}
    assert accuracy[2] == 1.0 and accuracy[1] < 0.8
    # a tie goes to config.yml's length (2), whatever the order of the choices
    best, accuracy = choose_word_ngrams("config.yml", train, choices=(3, 2))
    assert accuracy[2] == accuracy[3] == 1.0 and best == 2


def test_inconsistent_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "seq.in").write_text("a b\n", encoding="utf-8")
    (tmp_path / "seq.out").write_text("O\n", encoding="utf-8")
    (tmp_path / "label").write_text("x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        read_split(tmp_path)


def test_learned_extractor_by_default_crf_selectable() -> None:
    names = [c["name"] for c in benchmark_config("config.yml")["pipeline"]]
    # after the classifier: the predicted intent is one of its features
    assert names[-2:] == ["bot.nlu.classifier.LinearIntentClassifier", LEARNED]
    assert "CRFEntityExtractor" not in names
    learned = benchmark_config("config.yml", epochs=7, overrides={"width": 32})["pipeline"][-1]
    assert (learned["epochs"], learned["width"], learned["rule_lists"]) == (7, 32, False)
    crf = benchmark_config("config.yml", epochs=7, extractor="crf")["pipeline"]
    assert {"name": "CRFEntityExtractor", "max_iterations": 7} in crf
    assert LEARNED not in [c["name"] for c in crf]
    with pytest.raises(ValueError, match="extractor"):
        benchmark_config("config.yml", extractor="dietx")


def test_classifier_settings_go_on_top_of_the_configs() -> None:
    def classifier(cfg: dict) -> dict:
        return next(c for c in cfg["pipeline"]
                    if c["name"] == "bot.nlu.classifier.LinearIntentClassifier")

    default = classifier(benchmark_config("config.yml"))
    tuned = classifier(benchmark_config("config.yml", classifier={"word_ngram_max": 3}))
    assert tuned == {**default, "word_ngram_max": 3}
    assert "word_ngram_max" not in default  # config.yml keeps the classifier's default


def write_split(root: Path, split: str, rows: list[tuple[str, str, str]]) -> None:
    d = root / split
    d.mkdir(parents=True)
    for i, name in enumerate(("seq.in", "seq.out", "label")):
        (d / name).write_text("\n".join(r[i] for r in rows) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_runner_on_a_tiny_in_test_dataset(tmp_path: Path) -> None:
    rows = []
    for n, city in enumerate(["hà_nội", "huế", "đà_nẵng", "sài_gòn", "cần_thơ"] * 4):
        rows.append((f"vé đi {city} giá bao_nhiêu", "O O B-city O O", "price"))
        rows.append((f"đặt vé đi {city} lúc {n % 12 + 1} giờ", "O O O B-city O B-time I-time",
                     "book"))
    write_split(tmp_path, "train", rows)
    write_split(tmp_path, "test", [("đặt vé đi huế lúc 3 giờ", "O O O B-city O B-time I-time",
                                    "book"),
                                   ("vé đi cần_thơ giá bao_nhiêu", "O O B-city O O", "price")])
    for extractor in ("learned", "crf"):
        result = run_benchmark(tmp_path, config="config.yml", splits=("test",),
                               extractor=extractor)
        test = result.splits["test"]
        assert test.intent_accuracy == 1.0, extractor
        assert test.slot_f1 == 1.0 and test.sentence_accuracy == 1.0, extractor
        assert result.train_seconds > 0 and result.load_seconds > 0
        assert result.train_cpu_seconds > 0
        assert f"extractor {extractor}: trained on 40 sentences" in result.summary()
        assert "model load" in result.summary() and "s of CPU" in result.summary()
        assert result.word_ngram_max in (2, 3) and set(result.word_ngram_cv) == {2, 3}
        assert (f"word 1-{result.word_ngram_max}-grams, chosen by 5-fold cross-validation"
                in result.summary())
    # a length given on the command line is used as it is, nothing chosen
    fixed = run_benchmark(tmp_path, config="config.yml", splits=("test",),
                          classifier={"word_ngram_max": 3})
    assert fixed.word_ngram_max == 3 and fixed.word_ngram_cv == {}
    assert "chosen by" not in fixed.summary()


@pytest.mark.slow
@pytest.mark.skipif(not (SAMPLE / "train" / "seq.in").exists(), reason="no benchmark sample")
def test_runner_on_the_benchmark_sample(tmp_path: Path) -> None:
    errors = tmp_path / "errors.txt"
    result = run_benchmark(SAMPLE, config="config.yml", errors_file=errors)
    assert set(result.splits) == {"dev", "test"}
    test = result.splits["test"]
    # measured 100% / 100% / 100% on the 40 test sentences; floors leave room for noise
    assert test.intent_accuracy >= 0.9
    assert test.slot_f1 >= 0.85
    assert test.sentence_accuracy >= 0.8
    assert "| test | 40 |" in result.summary()
    # one block per sentence scored wrong, on both splits
    wrong = sum(round(s.n * (1 - s.sentence_accuracy)) for s in result.splits.values())
    blocks = [b for b in errors.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert len(blocks) == wrong


def test_command_line_settings_are_yaml_values() -> None:
    from bot.nlu.modeling import parse_settings

    assert parse_settings(["word_ngram_max=3", "char_ngram_range=[1, 5]", "x=none"]) == {
        "word_ngram_max": 3, "char_ngram_range": [1, 5], "x": "none"}
    assert parse_settings(None) == {}
    with pytest.raises(SystemExit, match="--classifier-set wants KEY=VALUE"):
        parse_settings(["word_ngram_max"], "--classifier-set")
