"""`bot nlu benchmark DIR`: joint intent detection + slot filling on a PhoATIS-style set.

DIR/{train,dev,test}/{seq.in, seq.out, label}: one sentence per line, space-separated
tokens, BIO tags per token, one intent per line. The project's NLU pipeline (normaliser,
tokenizer in plain-split mode, intent classifier from config.yml) is trained on `train`
with a learned entity extractor (the slot types are arbitrary here, our deterministic
extractor only knows the contract entities):

- `learned` (default): bot.nlu.learned_entities.LearnedEntityExtractor (spaCy NER,
  its default settings, `overrides` on top; no rule lists: our rules know no flights);
- `crf`: Rasa's CRFEntityExtractor (BILOU tags, crfsuite), for comparison.

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

    def summary(self) -> str:
        lines = [f"extractor {self.extractor}: trained on {self.train_size} sentences in "
                 f"{self.train_seconds:.0f} s ({self.train_cpu_seconds:.0f} s of CPU); "
                 f"model load {self.load_seconds:.1f} s; "
                 f"parse p50 {self.p50_ms:.1f} ms",
                 "| split | n | intent acc | slot P | slot R | slot F1 | sentence acc |",
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
                  classifier: dict[str, Any] | None = None) -> BenchmarkResult:
    """Train on DIR/train, evaluate on the other splits. `epochs`: training epochs of the
    learned extractor (CRF: iterations); `overrides`: its settings; `classifier`: settings
    of the intent classifier on top of the config's."""
    root = Path(directory)
    train = read_split(root / "train")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        out = Path(tmp)
        data = write_rasa_data(train, out / "data" / "nlu.yml")
        cpu0 = _cpu_seconds()
        model, seconds = train_nlu(benchmark_config(config, epochs, extractor, overrides,
                                                    classifier),
                                   data, out, "benchmark")
        result = BenchmarkResult(len(train), seconds, extractor=extractor,
                                 train_cpu_seconds=_cpu_seconds() - cpu0)
        t0 = time.perf_counter()
        parser = Parser(model)
        result.load_seconds = time.perf_counter() - t0
        times: list[float] = []
        try:
            for split in splits:
                if not (root / split / "seq.in").exists():
                    continue
                gold = read_split(root / split)
                parsed = parser.parse_all(s.text for s in gold)
                times += [p.seconds for p in parsed]
                result.splits[split] = score_split(
                    gold, [p.intent for p in parsed],
                    [entities_to_bio(s.tokens, p.entities)
                     for s, p in zip(gold, parsed, strict=True)])
        finally:
            parser.close()
    times.sort()
    result.p50_ms = times[len(times) // 2] * 1000 if times else 0.0
    return result
