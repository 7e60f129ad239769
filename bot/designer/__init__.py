"""The conversation designers' loop (docs/designers.md, "Vòng cải tiến"): read real
conversations from Rasa's tracker store (read-only), mask them, measure where the
assistant fails, and turn a designer's correction into a reviewable pending change
(`.data/designer/changes/`) that `bot data apply` writes into `data/` or `tests/stories/`.

- config.py: designer.yml (outcome definitions, thresholds, personal slots, stand-ins)
- tracker.py: sessions of the tracker store (SQLite or PostgreSQL), read-only
- conversations.py: one session -> messages, flags, outcome
- masking.py: what a designer sees (masked) and what is written to data (stand-ins)
- metrics.py: per-intent fallback / clarify / hand-off rates, abandonment points
- changes.py, nlu_files.py, stories.py: pending changes and how they are applied
- validate.py: `bot data validate` (`make validate`) in Vietnamese with file:line
- cli.py: `bot data ...`

Layer 3 (docs/architecture.md): uses the NLU lint (bot.nlu), nothing above; the console
routes live in bot/handoff/designer_routes.py.
"""
