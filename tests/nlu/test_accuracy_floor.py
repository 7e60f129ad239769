"""Accuracy floor: train the NLU (test config) on data/, evaluate on the hold-out set.

Floors are the measured numbers (docs/nlu.md, `make eval-nlu`) minus about 3 points, so
a change that makes the NLU clearly worse fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bot.nlu.evaluate import evaluate_model, load_examples
from bot.nlu.modeling import nlu_only_config, train_nlu

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "tests" / "nlu" / "holdout.yml"

# Measured with config.yml (2026-11-30, issue 12: whole model, `make eval-nlu`, a clarifying
# question counted as wrong): accuracy 99.0%; styles 97.6-100%; F1 phone, otp, id, service
# 100%, location 97.1%. The test config trains the ResponseSelector for fewer epochs;
# floors are about 3 points lower or more.
INTENT_ACCURACY_FLOOR = 0.96
STYLE_ACCURACY_FLOOR = 0.94
ENTITY_F1_FLOOR = {"phone_number": 0.97, "otp_code": 0.97, "id_number": 0.97,
                   "service": 0.97, "location": 0.92}
# CPU time per parse, not wall time: the shared machine's load made wall p50 76 ms while
# the CPU p50 was 15 ms (2026-11-30). Latency targets are measured by `make bench`.
CPU_P50_MS_CEILING = 60.0


def fast_config() -> dict:
    spec = importlib.util.spec_from_file_location("test_config", ROOT / "scripts" /
                                                  "test-config.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.fast_config(nlu_only_config(ROOT / "config.yml"))


@pytest.mark.slow
@pytest.mark.skipif(not HOLDOUT.exists(), reason="no hold-out set")
def test_nlu_accuracy_floor(tmp_path: Path) -> None:
    model, seconds = train_nlu(fast_config(), ROOT / "data", tmp_path, "floor",
                               domain=ROOT / "domain.yml")
    scores = evaluate_model("floor", model, load_examples(HOLDOUT), seconds)
    report = (f"accuracy {scores.accuracy:.1%}, styles {scores.by_style}, "
              f"entities {scores.entities}, confused {scores.confused[:5]}")
    assert scores.accuracy >= INTENT_ACCURACY_FLOOR, report
    for style, (acc, _n) in scores.by_style.items():
        assert acc >= STYLE_ACCURACY_FLOOR, f"style {style}: {report}"
    for entity, floor in ENTITY_F1_FLOOR.items():
        assert scores.entities[entity][2] >= floor, f"{entity}: {report}"
    assert 0 < scores.cpu_p50_ms <= CPU_P50_MS_CEILING, report
