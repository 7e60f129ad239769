"""Train an NLU-only Rasa model and parse messages with it (shared by eval, benchmark,
tests). Rasa is imported lazily: `bot --help` stays fast."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The configuration `rasa init` writes for Rasa 3.6 (stock pipeline, for comparison).
STOCK_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


def parse_settings(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """`KEY=VALUE` command-line settings (YAML values) as a dict."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} wants KEY=VALUE, not {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def quiet_rasa() -> None:
    """Less noise from TensorFlow / Rasa in CLI output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    for name in ("rasa", "tensorflow", "absl", "alembic", "matplotlib", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:  # Rasa 3.6 logs every parsed message (text included) through structlog at debug
        import structlog

        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:
        pass


def stock_config(epochs: int, language: str = "vi") -> dict[str, Any]:
    pipeline = []
    for comp in STOCK_PIPELINE:
        comp = dict(comp)
        if comp["name"] in ("DIETClassifier", "ResponseSelector"):
            comp["epochs"] = epochs
        pipeline.append(comp)
    return {"recipe": "default.v1", "language": language, "pipeline": pipeline,
            "policies": []}


def nlu_only_config(config_path: str | Path) -> dict[str, Any]:
    """The config file with its policies removed (NLU-only training)."""
    with Path(config_path).open(encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    cfg["policies"] = []
    return cfg


def write_config(cfg: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def _no_training_cache() -> Iterator[None]:
    """Rasa's training cache switched off: its fingerprints do not cover our components'
    source code (a cached, stale component would be reused) and the reported training
    time must be a real one."""
    previous = os.environ.get("RASA_MAX_CACHE_SIZE")
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("RASA_MAX_CACHE_SIZE", None)
        else:
            os.environ["RASA_MAX_CACHE_SIZE"] = previous


def train_nlu(config: dict[str, Any], nlu_data: str | Path, out_dir: Path,
              name: str, domain: str | Path | None = None) -> tuple[Path, float]:
    """Train an NLU model from scratch (no training cache); returns (model archive,
    seconds)."""
    quiet_rasa()
    from rasa.model_training import train_nlu as rasa_train_nlu

    cfg_path = write_config(config, out_dir / f"{name}-config.yml")
    t0 = time.perf_counter()
    with _no_training_cache():
        model = rasa_train_nlu(str(cfg_path), str(nlu_data), str(out_dir),
                               fixed_model_name=name, domain=usable_domain(domain))
    seconds = time.perf_counter() - t0
    if not model:
        raise RuntimeError(f"NLU training produced no model (config {cfg_path})")
    return Path(model), seconds


def train_whole(config_path: str | Path, data: str | Path, domain: str | Path,
                out_dir: Path, name: str) -> tuple[Path, float]:
    """Train the whole assistant (NLU + dialogue, `rasa train`, as `make train`) from
    scratch (no training cache); returns (model archive, seconds)."""
    quiet_rasa()
    from rasa.model_training import train as rasa_train

    t0 = time.perf_counter()
    with _no_training_cache():
        result = rasa_train(str(domain), str(config_path), [str(data)], str(out_dir),
                            fixed_model_name=name)
    seconds = time.perf_counter() - t0
    if not result.model:
        raise RuntimeError(f"training produced no model (config {config_path})")
    return Path(result.model), seconds


def usable_domain(domain: str | Path | None) -> str | None:
    """The domain file if it loads (it holds the faq responses), else None (NLU only)."""
    if not domain or not Path(domain).exists():
        return None
    from rasa.shared.core.domain import Domain

    try:
        Domain.load(str(domain))
    except Exception as exc:  # noqa: BLE001 - any broken domain: train NLU without it
        logging.getLogger(__name__).warning("Not using %s (%s): NLU only.", domain, exc)
        print(f"warning: {domain} does not load ({type(exc).__name__}); training NLU "
              "without it (faq response texts missing, response keys still predicted)")
        return None
    return str(domain)


@dataclass
class Parsed:
    text: str
    intent: str  # faq answers: 'faq/xxx' (the response selector's key)
    confidence: float
    entities: list[dict[str, Any]]
    seconds: float
    raw: dict[str, Any]
    # CPU time of this process during the parse: unlike `seconds`, hardly affected by
    # other work on a shared machine
    cpu_seconds: float = 0.0


def full_intent(result: dict[str, Any]) -> str:
    """The intent name, with the retrieval sub-intent when there is one ('faq/decree_49')."""
    intent = (result.get("intent") or {}).get("name") or ""
    selectors = result.get("response_selector") or {}
    sel = selectors.get(intent) or selectors.get("default")
    if sel:
        key = (sel.get("response") or {}).get("intent_response_key")
        if key and key.split("/", 1)[0] == intent:
            return key
    return intent


class Parser:
    """Loads a trained model once and parses texts with one event loop."""

    def __init__(self, model_path: str | Path) -> None:
        quiet_rasa()
        from rasa.core.agent import Agent

        self.loop = asyncio.new_event_loop()
        self.agent = Agent.load(str(model_path))

    def parse(self, text: str) -> Parsed:
        t0, c0 = time.perf_counter(), time.process_time()
        result = self.loop.run_until_complete(self.agent.parse_message(text))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        return Parsed(text, full_intent(result), float(result["intent"].get("confidence") or 0),
                      result.get("entities") or [], seconds, result, cpu)

    def parse_all(self, texts: Iterable[str]) -> list[Parsed]:
        texts = list(texts)
        if texts:
            self.parse(texts[0])  # warm-up (lazy TF graph tracing)
        return [self.parse(t) for t in texts]

    def close(self) -> None:
        self.loop.close()
