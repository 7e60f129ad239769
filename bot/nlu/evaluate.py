"""`bot nlu eval`: train on data/, evaluate on the hold-out set, compare with stock Rasa.

Metrics: intent accuracy and macro F1 (faq answers count as their full 'faq/xxx' key, a
fallback counts as wrong), accuracy per style (metadata.style), value-level entity
precision / recall / F1 after normalisation, the most confused intent pairs, parse
latency p50 / p95. Writes reports/nlu_report.md and reports/nlu_confusion.png.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu.modeling import (
    Parsed,
    Parser,
    nlu_only_config,
    quiet_rasa,
    stock_config,
    train_nlu,
    train_whole,
)
from bot.text import fold, normalize_msisdn

ENTITY_TYPES = ("phone_number", "otp_code", "id_number", "service", "location")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str  # 'faq/xxx' for retrieval intents
    entities: tuple[tuple[str, str], ...]  # (entity, normalised value)
    style: str


def canonical_value(entity: str, value: Any) -> str:
    """Normalise an entity value for value-level comparison."""
    text = str(value)
    if entity == "phone_number":
        return normalize_msisdn(text) or re.sub(r"\D", "", text)
    if entity == "otp_code":
        return re.sub(r"\D", "", text)
    if entity == "id_number":
        return re.sub(r"[\s.]", "", text).upper()
    if entity == "service":
        from bot.reference.catalog import find_service

        svc = find_service(text)
        return svc.code if svc else text.upper()
    if entity == "location":
        return canonical_place(text)
    return fold(text)


_ADMIN_WORDS = ("thanh pho ", "tp ", "tinh ", "huyen ", "thi xa ", "tx ", "phuong ", "xa ",
                "quan ")


def canonical_place(text: str) -> str:
    """'Quận Cầu Giấy' ~ 'cau giay', 'q3' ~ 'Quận 3', 'TP. HCM' ~ 'tp hcm' (as the store
    finder resolves them)."""
    from bot.reference.places import PROVINCE_ALIASES, normalize_place

    key = normalize_place(text)
    key = PROVINCE_ALIASES.get(key, key)
    if key in PROVINCE_ALIASES.values():
        return key
    for prefix in _ADMIN_WORDS:
        rest = key[len(prefix):]
        if key.startswith(prefix) and rest and not rest.isdigit():
            return PROVINCE_ALIASES.get(rest, rest)
    return key


def load_examples(path: str | Path) -> list[Example]:
    quiet_rasa()
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for msg in load_data(str(path)).training_examples:
        if not msg.get("text") or not msg.get("intent"):
            continue
        intent = msg.get("intent_response_key") or msg.get("intent")
        meta = (msg.get("metadata") or {}).get("example") or {}
        ents = tuple((e["entity"], canonical_value(e["entity"], e["value"]))
                     for e in msg.get("entities") or [])
        examples.append(Example(msg.get("text"), intent, ents, str(meta.get("style", "?"))))
    return examples


@dataclass
class Scores:
    name: str
    n: int = 0
    accuracy: float = 0.0
    macro_f1: float = 0.0
    by_style: dict[str, tuple[float, int]] = field(default_factory=dict)
    entities: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    confused: list[tuple[str, str, int]] = field(default_factory=list)
    p50_ms: float = 0.0
    cpu_p50_ms: float = 0.0  # CPU time per parse (robust to a loaded machine)
    p95_ms: float = 0.0
    train_seconds: float = 0.0
    fallbacks: int = 0
    unseen_accuracy: float = 0.0  # on hold-out texts not found in the training data
    unseen_n: int = 0
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (entity, gold values, predicted values, text) where they differ
    entity_errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    pred: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def text_key(text: str) -> str:
    """How hold-out and training texts are compared: folded, no punctuation."""
    return " ".join(fold(re.sub(r"[^\w\s]", " ", text)).split())


def training_keys(data: str | Path) -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    paths = [p for p in Path(data).rglob("*.yml")] if Path(data).is_dir() else [Path(data)]
    keys: set[str] = set()
    for p in paths:
        try:
            td = load_data(str(p))
        except Exception:  # noqa: BLE001 - stories/rules/domain files are not NLU data
            continue
        keys |= {text_key(m.get("text")) for m in td.training_examples if m.get("text")}
    return keys


def score(name: str, examples: list[Example], parsed: list[Parsed],
          train_seconds: float = 0.0, seen: set[str] | None = None) -> Scores:
    from sklearn.metrics import f1_score

    gold = [e.intent for e in examples]
    pred = [p.intent for p in parsed]
    s = Scores(name=name, n=len(examples), train_seconds=train_seconds, gold=gold, pred=pred)
    s.accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / max(1, len(gold))
    s.labels = sorted(set(gold))
    s.macro_f1 = float(f1_score(gold, pred, labels=s.labels, average="macro", zero_division=0))
    s.fallbacks = sum(p == "nlu_fallback" for p in pred)
    unseen = [i for i, e in enumerate(examples) if seen is None or text_key(e.text) not in seen]
    s.unseen_n = len(unseen)
    s.unseen_accuracy = sum(gold[i] == pred[i] for i in unseen) / max(1, len(unseen))
    for style in sorted({e.style for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.style == style]
        s.by_style[style] = (sum(gold[i] == pred[i] for i in idx) / len(idx), len(idx))
    pairs = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    s.confused = [(g, p, c) for (g, p), c in pairs.most_common(10)]
    s.errors = [(e.style, e.intent, p.intent, e.text)
                for e, p in zip(examples, parsed, strict=True) if e.intent != p.intent]
    for ent in ENTITY_TYPES:
        tp = fp = fn = 0
        for e, p in zip(examples, parsed, strict=True):
            # value-level, per message: a value mentioned twice counts once
            g = {v for k, v in e.entities if k == ent}
            q = {canonical_value(ent, x["value"]) for x in p.entities if x.get("entity") == ent}
            tp += len(g & q)
            fp += len(q - g)
            fn += len(g - q)
            if g != q:
                s.entity_errors.append((ent, ", ".join(sorted(g)) or "-",
                                        ", ".join(sorted(q)) or "-", e.text))
        support = tp + fn  # distinct gold values
        prec = tp / (tp + fp) if tp + fp else (1.0 if support == 0 else 0.0)
        rec = tp / support if support else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        s.entities[ent] = (prec, rec, f1, support)
    ms = [p.seconds * 1000 for p in parsed]
    s.p50_ms, s.p95_ms = statistics.median(ms) if ms else 0.0, _percentile(ms, 0.95)
    s.cpu_p50_ms = statistics.median([p.cpu_seconds * 1000 for p in parsed]) if parsed else 0.0
    return s


def evaluate_model(name: str, model: Path, examples: list[Example],
                   train_seconds: float, seen: set[str] | None = None) -> Scores:
    parser = Parser(model)
    try:
        parsed = parser.parse_all(e.text for e in examples)
    finally:
        parser.close()
    return score(name, examples, parsed, train_seconds, seen)


# --------------------------------------------------------------------------- report
def format_scores(s: Scores) -> str:
    lines = [f"## {s.name}", "",
             f"- examples: {s.n}; training time: {s.train_seconds:.0f} s",
             f"- intent accuracy: **{s.accuracy:.1%}**; macro F1: **{s.macro_f1:.3f}**; "
             f"fallbacks: {s.fallbacks}",
             f"- accuracy on the {s.unseen_n} hold-out texts that are not training examples "
             f"(folded): {s.unseen_accuracy:.1%}",
             f"- parse latency: p50 {s.p50_ms:.1f} ms, p95 {s.p95_ms:.1f} ms "
             f"(CPU time p50 {s.cpu_p50_ms:.1f} ms)", "",
             "| style | accuracy | n |", "|---|---|---|"]
    lines += [f"| {k} | {a:.1%} | {n} |" for k, (a, n) in s.by_style.items()]
    lines += ["", "| entity | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {p:.1%} | {r:.1%} | {f:.1%} | {n} |"
              for k, (p, r, f, n) in s.entities.items()]
    lines += ["", "Most confused (gold -> predicted, count):", ""]
    lines += [f"- {g} -> {p}: {c}" for g, p, c in s.confused] or ["- none"]
    return "\n".join(lines) + "\n"


def comparison(ours: Scores, stock: Scores) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    def err_ratio(a: float, b: float) -> str:
        return f"{(1 - b) / (1 - a):.1f}x fewer errors" if a < 1 else "no errors"

    gain = f"{ratio(ours.accuracy, stock.accuracy)} ({err_ratio(ours.accuracy, stock.accuracy)})"
    rows = [("intent accuracy", f"{ours.accuracy:.1%}", f"{stock.accuracy:.1%}", gain),
            ("macro F1", f"{ours.macro_f1:.3f}", f"{stock.macro_f1:.3f}",
             ratio(ours.macro_f1, stock.macro_f1))]
    for style in ours.by_style:
        a, b = ours.by_style[style][0], stock.by_style.get(style, (0.0, 0))[0]
        rows.append((f"accuracy {style}", f"{a:.1%}", f"{b:.1%}", ratio(a, b)))
    rows.append((f"accuracy on unseen texts (n={ours.unseen_n})", f"{ours.unseen_accuracy:.1%}",
                 f"{stock.unseen_accuracy:.1%}",
                 ratio(ours.unseen_accuracy, stock.unseen_accuracy)))
    for ent in ENTITY_TYPES:
        a, b = ours.entities[ent][2], stock.entities[ent][2]
        rows.append((f"F1 {ent}", f"{a:.1%}", f"{b:.1%}", ratio(a, b)))
    rows += [("parse p50", f"{ours.p50_ms:.1f} ms", f"{stock.p50_ms:.1f} ms",
              ratio(stock.p50_ms, ours.p50_ms) + " faster"),
             ("NLU training", f"{ours.train_seconds:.0f} s", f"{stock.train_seconds:.0f} s",
              ratio(stock.train_seconds, ours.train_seconds) + " faster")]
    out = ["| metric | ours | stock | gain |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out) + "\n"


def print_summary(s: Scores) -> None:
    print(f"\n== {s.name}: intent accuracy {s.accuracy:.1%}, macro F1 {s.macro_f1:.3f}, "
          f"p50 {s.p50_ms:.1f} ms, p95 {s.p95_ms:.1f} ms, training {s.train_seconds:.0f} s")
    print(f"   on the {s.unseen_n} hold-out texts not in the training data: "
          f"{s.unseen_accuracy:.1%}")
    print("   per style: " + ", ".join(f"{k} {a:.1%} (n={n})" for k, (a, n) in s.by_style.items()))
    for ent, (p, r, f, n) in s.entities.items():
        print(f"   {ent:<13} P {p:.1%}  R {r:.1%}  F1 {f:.1%}  (n={n})")
    print("   most confused: " + "; ".join(f"{g}->{p} x{c}" for g, p, c in s.confused[:6]))


def plot_confusion(s: Scores, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(s.gold) | set(s.pred))
    cm = confusion_matrix(s.gold, s.pred, labels=labels)
    fig, ax = plt.subplots(figsize=(12, 11))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{s.name}: intent confusion on the hold-out set")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report_dir: Path, ours: Scores, stock: Scores | None,
                 stock_epochs: int, holdout: str) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(ours, report_dir / "nlu_confusion.png")
    parts = ["# NLU evaluation report", "",
             f"Model: {ours.name}; training data `data/`, evaluated on `{holdout}`. A faq "
             "answer counts "
             "as its full retrieval intent (`faq/xxx`); `nlu_fallback` counts as wrong. "
             "Entity scores are value-level after normalisation.", ""]
    if stock is not None:
        parts += [f"Stock = the `rasa init` pipeline of Rasa 3.6 on the same data, with "
                  f"DIETClassifier/ResponseSelector **epochs={stock_epochs}**"
                  + (" (reduced from 100 with --stock-epochs to keep the run short)"
                     if stock_epochs != 100 else "") + ".", "",
                  comparison(ours, stock)]
    parts += [format_scores(ours), "![confusion](nlu_confusion.png)", ""]
    if stock is not None:
        parts += [format_scores(stock)]
    parts += ["## Errors of our pipeline (style, gold, predicted, text)", ""]
    parts += [f"- [{st}] {g} -> {p}: {t}" for st, g, p, t in ours.errors] or ["- none"]
    parts += ["", "## Entity differences of our pipeline (entity, gold, predicted, text)", ""]
    parts += [f"- {ent}: {g} -> {p}: {t}" for ent, g, p, t in ours.entity_errors] or ["- none"]
    path = report_dir / "nlu_report.md"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def run_eval(config: str, data: str, holdout: str, report_dir: str, stock_epochs: int,
             with_stock: bool, domain: str | None = "domain.yml",
             work_dir: str | None = None, whole: bool = False,
             model: str | None = None) -> tuple[Scores, Scores | None]:
    """Evaluate our pipeline on the hold-out. `whole`: train the whole assistant (`rasa
    train`, NLU + dialogue: the model customers talk to; this is the reported number);
    else NLU only (faster); the trained archive is kept as REPORT_DIR/whole-model.tar.gz.
    `model`: evaluate this trained archive instead of training."""
    examples = load_examples(holdout)
    seen = training_keys(data)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        out = Path(tmp)
        if model:
            ours = evaluate_model(f"ours ({model})", Path(model), examples, 0.0, seen)
        elif whole:
            archive, secs = train_whole(config, data, domain or "domain.yml", out, "whole")
            Path(report_dir).mkdir(parents=True, exist_ok=True)
            archive = Path(shutil.copy(archive, Path(report_dir) / "whole-model.tar.gz"))
            ours = evaluate_model("ours (config.yml, whole model: NLU + dialogue)", archive,
                                  examples, secs, seen)
        else:
            archive, secs = train_nlu(nlu_only_config(config), data, out, "ours", domain)
            ours = evaluate_model("ours (config.yml, NLU only)", archive, examples, secs, seen)
        print_summary(ours)
        stock = None
        if with_stock:
            archive, secs = train_nlu(stock_config(stock_epochs), data, out, "stock", domain)
            stock = evaluate_model(f"stock Rasa 3.6 (epochs={stock_epochs})", archive,
                                   examples, secs, seen)
            print_summary(stock)
    path = write_report(Path(report_dir), ours, stock, stock_epochs, holdout)
    print(f"\nReport: {path}")
    return ours, stock
