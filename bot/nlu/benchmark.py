"""`bot nlu benchmark DIR`: joint intent detection + slot filling on a PhoATIS-style set.

DIR/{train,dev,test}/{seq.in, seq.out, label}: one sentence per line, space-separated
tokens, BIO tags per token, one intent per line. The project's NLU pipeline (normaliser,
tokenizer in plain-split mode, intent classifier from config.yml) is trained on `train`
with a learned entity extractor (the slot types are arbitrary here, our deterministic
extractor only knows the contract entities):

- `learned` (default): bot.nlu.learned_entities.LearnedEntityExtractor (spaCy NER,
  its default settings, `overrides` on top; no rule lists: our rules know no flights);
- `crf`: Rasa's CRFEntityExtractor (BILOU tags, crfsuite), for comparison.

The intent classifier keeps config.yml's settings except one the data set decides: the
length of its word n-grams (`WORD_NGRAM_CHOICES`), chosen by 5-fold cross-validation on
DIR/train (`choose_word_ngrams`; never on dev or test), unless `--classifier-set
word_ngram_max=N` fixes it. The choice is part of training: its time is in the training time.

Reported on dev and test: intent accuracy, slot F1 (conlleval: exact span + type) and
sentence accuracy (intent right and every tag right), with the training time (whole NLU
model; wall and CPU seconds), the model load time (Agent.load) and the parse latency.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.modeling import Parser, train_nlu

OURS = ("bot.nlu.normalizer.VietnameseNormalizer", "bot.nlu.tokenizer.VietnameseTokenizer",
        "bot.nlu.classifier.LinearIntentClassifier")


@dataclass(frozen=True)
class Sentence:
    tokens: list[str]
    tags: list[str]
    intent: str

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def read_split(directory: Path) -> list[Sentence]:
    def lines(name: str) -> list[str]:
        return (directory / name).read_text(encoding="utf-8").rstrip("\n").split("\n")

    seq_in, seq_out, labels = lines("seq.in"), lines("seq.out"), lines("label")
    if not len(seq_in) == len(seq_out) == len(labels):
        raise ValueError(f"{directory}: seq.in, seq.out and label differ in length")
    out = []
    for n, (words, tags, label) in enumerate(zip(seq_in, seq_out, labels, strict=True), 1):
        toks, tg = words.split(), tags.split()
        if len(toks) != len(tg):
            raise ValueError(f"{directory} line {n}: {len(toks)} tokens but {len(tg)} tags")
        out.append(Sentence(toks, tg, label.strip()))
    return out


def token_offsets(tokens: list[str]) -> list[tuple[int, int]]:
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    return offsets


def chunks(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first token, last token) of each BIO chunk (conlleval: a stray I- starts one)."""
    found: list[tuple[str, int, int]] = []
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = tag.partition("-")
        continues = prefix == "I" and typ == kind
        if kind is not None and not continues:
            found.append((kind, start, i - 1))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = typ, i
    return found


def bio_to_entities(sentence: Sentence) -> list[dict[str, Any]]:
    offsets = token_offsets(sentence.tokens)
    text = sentence.text
    return [{"entity": typ, "start": offsets[a][0], "end": offsets[b][1],
             "value": text[offsets[a][0]:offsets[b][1]]}
            for typ, a, b in chunks(sentence.tags)]


def entities_to_bio(tokens: list[str], entities: list[dict[str, Any]]) -> list[str]:
    tags = ["O"] * len(tokens)
    for ent in sorted(entities, key=lambda e: e["start"]):
        inside = [i for i, (s, e) in enumerate(token_offsets(tokens))
                  if s >= ent["start"] and e <= ent["end"]]
        for k, i in enumerate(inside):
            if tags[i] == "O":
                tags[i] = ("B-" if k == 0 else "I-") + ent["entity"]
    return tags


def write_rasa_data(sentences: list[Sentence], path: Path) -> Path:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message.build(text=s.text, intent=s.intent, entities=bio_to_entities(s))
                for s in sentences]
    path.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(path, TrainingData(training_examples=messages))
    return path


LEARNED = "bot.nlu.learned_entities.LearnedEntityExtractor"
EXTRACTORS = ("learned", "crf")


def benchmark_config(config_path: str | Path, epochs: int | None = None,
                     extractor: str = "learned",
                     overrides: dict[str, Any] | None = None,
                     classifier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Our normaliser/tokenizer/classifier (settings from config.yml, `classifier` on top
    of the classifier's) + a learned extractor: `learned` (epochs = its training epochs)
    or `crf` (epochs = iterations)."""
    with Path(config_path).open(encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    ours = {c["name"]: dict(c) for c in cfg.get("pipeline", []) if c.get("name") in OURS}
    pipeline = [ours.get(name, {"name": name}) for name in OURS]
    pipeline[1] = {**pipeline[1], "mode": "split"}
    pipeline[2] = {**pipeline[2], **(classifier or {})}
    if extractor == "learned":
        # after the classifier: the predicted intent is one of its features
        learned: dict[str, Any] = {"name": LEARNED, "rule_lists": False,
                                   "add_to_entities": True, **(overrides or {})}
        if epochs:
            learned["epochs"] = epochs
        pipeline.append(learned)
    elif extractor == "crf":
        crf: dict[str, Any] = {"name": "CRFEntityExtractor", **(overrides or {})}
        if epochs:
            crf["max_iterations"] = epochs
        # CRFEntityExtractor only trains on messages that have some featurizer's features.
        pipeline[2:2] = [{"name": "LexicalSyntacticFeaturizer"}, crf]
    else:
        raise ValueError(f"extractor must be one of {EXTRACTORS}, not {extractor!r}")
    return {"recipe": "default.v1", "language": cfg.get("language", "vi"),
            "pipeline": pipeline, "policies": []}


# The word n-gram lengths the benchmark chooses among (config.yml's value wins a tie):
# phrases of three syllables ("giá vé khứ hồi") tell intents apart on a flight data set,
# where our assistant's own data gains nothing from them (docs/nlu.md).
WORD_NGRAM_CHOICES = (2, 3)


def _cv_accuracy(cfg: dict[str, Any], texts: list[str], intents: list[str]) -> float:
    from bot.nlu.compare import cross_validated

    return float(cross_validated(cfg, texts, intents).ok.mean())


def choose_word_ngrams(config_path: str | Path, train: list[Sentence],
                       classifier: dict[str, Any] | None = None,
                       choices: tuple[int, ...] = WORD_NGRAM_CHOICES,
                       ) -> tuple[int, dict[int, float]]:
    """The classifier's word n-gram length with the best 5-fold cross-validated intent
    accuracy on `train` (config.yml's classifier settings, `classifier` on top), and the
    accuracy of each choice. Ties go to config.yml's length, then to the shorter."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bot.nlu.compare import pipeline_config

    base = {**pipeline_config(str(config_path)), **(classifier or {})}
    texts, intents = [s.text for s in train], [s.intent for s in train]
    # one process per choice, two at a time (two cores here); spawned, as the learned
    # extractor's NERs, and joined, so that their CPU time is counted
    with ProcessPoolExecutor(max_workers=min(2, len(choices)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_cv_accuracy, {**base, "word_ngram_max": n}, texts, intents)
                   for n in choices]
        accuracy = {n: f.result() for n, f in zip(choices, futures, strict=True)}
    best = max(choices, key=lambda n: (round(accuracy[n], 6), n == base["word_ngram_max"], -n))
    return best, accuracy


@dataclass
class SplitScores:
    n: int
    intent_accuracy: float
    slot_precision: float
    slot_recall: float
    slot_f1: float
    sentence_accuracy: float


@dataclass
class BenchmarkResult:
    train_size: int
    train_seconds: float
    splits: dict[str, SplitScores] = field(default_factory=dict)
    p50_ms: float = 0.0
    load_seconds: float = 0.0
    extractor: str = "learned"
    # CPU time (user + system, this process and its children) of training: on a shared
    # machine the wall time is what the machine gave us, the CPU time is what the model needs
    train_cpu_seconds: float = 0.0
    # the intent classifier's word n-gram length, and the cross-validated intent accuracy
    # on train of each length considered (empty when --classifier-set fixed it)
    word_ngram_max: int = 0
    word_ngram_cv: dict[int, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"extractor {self.extractor}: trained on {self.train_size} sentences in "
                 f"{self.train_seconds:.0f} s ({self.train_cpu_seconds:.0f} s of CPU); "
                 f"model load {self.load_seconds:.1f} s; "
                 f"parse p50 {self.p50_ms:.1f} ms"]
        if self.word_ngram_cv:
            cv = ", ".join(f"1-{n}: {a:.1%}" for n, a in sorted(self.word_ngram_cv.items()))
            lines.append(f"intent classifier: word 1-{self.word_ngram_max}-grams, chosen by "
                         f"5-fold cross-validation on train ({cv})")
        lines += ["| split | n | intent acc | slot P | slot R | slot F1 | sentence acc |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {k} | {s.n} | {s.intent_accuracy:.1%} | {s.slot_precision:.1%} | "
                  f"{s.slot_recall:.1%} | {s.slot_f1:.1%} | {s.sentence_accuracy:.1%} |"
                  for k, s in self.splits.items()]
        return "\n".join(lines)


def score_split(gold: list[Sentence], pred_intents: list[str],
                pred_tags: list[list[str]]) -> SplitScores:
    tp = n_pred = n_gold = 0
    intent_ok = sentence_ok = 0
    for g, intent, tags in zip(gold, pred_intents, pred_tags, strict=True):
        gc, pc = set(chunks(g.tags)), set(chunks(tags))
        tp += len(gc & pc)
        n_pred += len(pc)
        n_gold += len(gc)
        intent_ok += intent == g.intent
        sentence_ok += intent == g.intent and gc == pc
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    n = max(1, len(gold))
    return SplitScores(len(gold), intent_ok / n, p, r, 2 * p * r / (p + r) if p + r else 0.0,
                       sentence_ok / n)


def describe_errors(split: str, gold: list[Sentence], pred_intents: list[str],
                    pred_tags: list[list[str]]) -> list[str]:
    """One block per sentence the model got wrong (intent or any slot): the text, the
    intent if wrong, and each slot missed (gold only) or added (predicted only). For
    error analysis on a research set: the report stays on the user's machine."""
    out = []
    for n, (g, intent, tags) in enumerate(zip(gold, pred_intents, pred_tags, strict=True), 1):
        gc, pc = set(chunks(g.tags)), set(chunks(tags))
        if intent == g.intent and gc == pc:
            continue
        lines = [f"[{split} {n}] {g.text}"]
        if intent != g.intent:
            lines.append(f"  intent: {g.intent} -> {intent}")
        for mark, found in (("-", sorted(gc - pc, key=lambda c: c[1])),
                            ("+", sorted(pc - gc, key=lambda c: c[1]))):
            lines += [f"  {mark} {typ}: {' '.join(g.tokens[a:b + 1])}" for typ, a, b in found]
        out.append("\n".join(lines))
    return out


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished child processes (the
    learned extractor trains its NERs in processes of their own)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_benchmark(directory: str | Path, config: str | Path = "config.yml",
                  epochs: int | None = None, splits: tuple[str, ...] = ("dev", "test"),
                  work_dir: str | None = None, extractor: str = "learned",
                  overrides: dict[str, Any] | None = None,
                  classifier: dict[str, Any] | None = None,
                  errors_file: str | Path | None = None) -> BenchmarkResult:
    """Train on DIR/train, evaluate on the other splits. `epochs`: training epochs of the
    learned extractor (CRF: iterations); `overrides`: its settings; `classifier`: settings
    of the intent classifier on top of the config's; `errors_file`: where to write the
    sentences each split got wrong (see `describe_errors`)."""
    root = Path(directory)
    train = read_split(root / "train")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        out = Path(tmp)
        data = write_rasa_data(train, out / "data" / "nlu.yml")
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        classifier = dict(classifier or {})
        cv: dict[int, float] = {}
        if "word_ngram_max" not in classifier:
            classifier["word_ngram_max"], cv = choose_word_ngrams(config, train, classifier)
        choosing = time.perf_counter() - t0
        model, seconds = train_nlu(benchmark_config(config, epochs, extractor, overrides,
                                                    classifier),
                                   data, out, "benchmark")
        result = BenchmarkResult(len(train), choosing + seconds, extractor=extractor,
                                 train_cpu_seconds=_cpu_seconds() - cpu0,
                                 word_ngram_max=classifier["word_ngram_max"],
                                 word_ngram_cv=cv)
        t0 = time.perf_counter()
        parser = Parser(model)
        result.load_seconds = time.perf_counter() - t0
        times: list[float] = []
        errors: list[str] = []
        try:
            for split in splits:
                if not (root / split / "seq.in").exists():
                    continue
                gold = read_split(root / split)
                parsed = parser.parse_all(s.text for s in gold)
                times += [p.seconds for p in parsed]
                intents = [p.intent for p in parsed]
                tags = [entities_to_bio(s.tokens, p.entities)
                        for s, p in zip(gold, parsed, strict=True)]
                result.splits[split] = score_split(gold, intents, tags)
                errors += describe_errors(split, gold, intents, tags)
        finally:
            parser.close()
    if errors_file is not None:
        Path(errors_file).write_text("\n\n".join(errors) + "\n", encoding="utf-8")
    times.sort()
    result.p50_ms = times[len(times) // 2] * 1000 if times else 0.0
    return result
