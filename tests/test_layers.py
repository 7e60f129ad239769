"""The layers of docs/architecture.md, checked on the source: which package may import
which. Every import counts, also those inside functions (a lazy import is a dependency
too). Tests are not checked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    found = {}
    for base in ("bot", "actions"):
        for path in (ROOT / base).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Absolute names of our modules that `path` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in ("bot", "actions")}


def _group(module: str) -> str:
    """`bot.backend.vas` -> `bot.backend`; `actions.services` -> `actions`."""
    parts = module.split(".")
    return "actions" if parts[0] == "actions" else ".".join(parts[:2])


# docs/architecture.md "Layers": a package imports only packages of a lower layer
# (the shared modules of layer 0 may use each other).
LAYERS = {
    "bot.text": 0, "bot.texts": 0, "bot.conversation_ids": 0, "bot.privacy": 0,
    "bot.settings": 0, "bot.brand": 0, "bot.secrets": 0, "bot.clock": 0,
    "bot.rasa_stores": 0, "bot.rasa_patches": 0, "bot.nlg": 0,  # Rasa adapters (endpoints.yml)
    "bot.shell": 0,  # the terminal chat's input and output (bot serve shell)
    "bot.metrics": 0, "bot.health": 0,  # Prometheus metrics, health/readiness probes
    "bot.admission": 0,  # turns in progress per Rasa instance (bot serve rasa, the inbox)
    "bot.database": 1, "bot.reference": 1, "bot.media": 1,  # media: photos at rest
    "bot.backend": 2, "bot.nlu": 2,
    "bot.channels": 3,
    "bot.campaigns": 3.5,  # campaigns: over the channels; the hand-off's console shows them
    "bot.designer": 3,  # designers' inbox logic: tracker store (read-only), NLU lint
    "bot.handoff": 4,
    "actions": 5,
    "bot.serve": 6, "bot.cli": 7,  # the launchers; `bot` dispatches to `bot serve`
}
# Narrower than the layers allow.
FORBIDDEN = {
    # the conversation-id convention is shared by everyone, so it depends on no one
    "bot.conversation_ids": ("bot", "actions"),
    # the NLU reads reference data from bot/reference, never a database
    "bot.nlu": ("bot.database",),
}


def test_every_module_has_a_layer():
    """A new package or top-level module: give it its layer here and in the table of
    docs/architecture.md."""
    groups = {_group(m) for m in MODULES if m not in ("bot", "actions")}
    assert sorted(groups - set(LAYERS)) == []


def test_imports_go_down_the_layers():
    bad = []
    for module, path in sorted(MODULES.items()):
        if module in ("bot", "actions"):
            continue
        group = _group(module)
        for name in sorted(_imports(path) - {"bot", "actions"}):
            target = _group(name)
            if target == group or target not in LAYERS:
                continue
            level, other = LAYERS[group], LAYERS[target]
            if other > level or (other == level and level > 0):
                bad.append(f"{module} imports {name}")
    assert bad == []


@pytest.mark.parametrize("owner", sorted(FORBIDDEN))
def test_forbidden_imports(owner):
    bad = []
    for module, path in sorted(MODULES.items()):
        if _group(module) != owner:
            continue
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[owner]):
                bad.append(f"{module} imports {name}")
    assert bad == []


@pytest.mark.parametrize("package", ["backend", "channels", "handoff", "campaigns"])
def test_only_the_owner_touches_its_tables(package):
    """Another package reads and writes them through the owner's API (e.g. the hand-off
    finds a chat by number through `ChannelStore`)."""
    models = f"bot.{package}.models"
    bad = []
    for module, path in sorted(MODULES.items()):
        if _group(module) == f"bot.{package}":
            continue
        if any(n == models or n.startswith(models + ".") for n in _imports(path)):
            bad.append(module)
    assert bad == []


def test_the_nlu_runs_without_the_backend_or_sqlalchemy_models():
    """The NLU's reference data (catalog, places) comes from bot/reference: using it loads
    none of our database code."""
    code = (
        "import sys\n"
        "from bot.nlu import entities, evaluate\n"
        "assert entities.catalog_codes()\n"
        "assert evaluate.canonical_value('service', 'nhac cho') == 'FUNRING'\n"
        "assert evaluate.canonical_place('TP. HCM') == 'tp ho chi minh'\n"
        "ours = [m for m in sys.modules if m.split('.')[:2] in "
        "(['bot', 'backend'], ['bot', 'database'])]\n"
        "assert not ours, ours\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_one_engine_per_database_url(tmp_path, monkeypatch):
    from bot import database
    from bot.backend import Backend
    from bot.channels.store import ChannelStore
    from bot.handoff.accounts import AgentAccounts
    from bot.handoff.tickets import TicketStore

    url = f"sqlite:///{tmp_path / 'one.db'}"
    monkeypatch.setenv("BOT_DB_URL", url)
    database.upgrade(url)
    engine = database.engine_for(url)
    assert engine.hide_parameters is True
    backend = Backend(url)
    assert backend.engine is engine
    assert ChannelStore().engine is engine
    assert TicketStore(url).engine is engine
    assert AgentAccounts(url).engine is engine
