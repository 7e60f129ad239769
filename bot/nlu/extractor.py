"""Graph component: the contract entities, from rules, merged with the learned extractor.

phone_number, otp_code, id_number, service (catalog code), location (as typed); see
bot.nlu.entities. Training only collects extra service aliases (annotated service spans
whose value is a catalog code, and entity synonyms) and place names from the data.

With `LearnedEntityExtractor` (add_to_entities: false) before it in the pipeline, its
spans (`learned_entities` attribute) are merged here: numbers stay the rules' only
(`rule_only`); a generic service word or a place that the intent filter would drop is
kept when the learned model found it too; learned spans the rules do not know are added
(a service mapped to its catalog code, or dropped when it maps to none; a place with its
typed administrative prefix; any other entity type as typed).
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entities import (
    Entity,
    alias_key,
    catalog_aliases,
    catalog_codes,
    extract_all,
    extract_services,
    with_admin_prefix,
)
from bot.nlu.learned_entities import LEARNED_ENTITIES
from bot.text import fold

logger = logging.getLogger(__name__)

_STATE_FILE = "vi_entities.json"


def learn_from_data(training_data: TrainingData) -> tuple[dict[str, str], list[str]]:
    """(service alias key -> code, place names) found in annotated training data."""
    codes = catalog_codes()
    services: dict[str, str] = {}
    places: set[str] = set()
    for example in training_data.entity_examples:
        text = example.get(TEXT) or ""
        for ent in example.get(ENTITIES) or []:
            span = text[ent["start"]:ent["end"]]
            if ent["entity"] == "service" and str(ent.get("value")) in codes:
                services.setdefault(alias_key(span), str(ent["value"]))
            elif ent["entity"] == "location" and alias_key(span):
                places.add(alias_key(span))
    for synonym, value in training_data.entity_synonyms.items():
        if value in codes:
            services.setdefault(alias_key(synonym), value)
    return services, sorted(places)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class VietnameseEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Rules + gazetteers for phone_number, otp_code, id_number, service, location."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "entities": ["phone_number", "otp_code", "id_number", "service", "location"],
            "learn_from_data": True,
            # Generic service words ("game", "đọc báo", "lưu trữ") and place names are
            # only entities when the predicted intent is one of these (a service code
            # such as "funring" always is). Empty list / no intent: no filtering.
            "service_intents": ["cancel_service", "register_service", "list_services",
                                "check_balance", "inform"],
            # A place in an out-of-scope request ("vé máy bay đi Phú Quốc") is a place too;
            # the dialogue ignores it there (domain.yml: the location slot is not filled
            # from out_of_scope).
            "location_intents": ["find_store", "inform", "out_of_scope"],
            # A message that is only a place name is an answer (`inform`) unless the
            # classifier read it as one of these.
            "bare_place_intents": ["find_store", "inform"],
            # learned spans of these types are ignored (the rules are exact for them)
            "rule_only": ["phone_number", "otp_code", "id_number"],
            # a learned service span maps to the catalog alias it resembles this much
            # (difflib ratio of the folded texts), else it is dropped
            "service_similarity": 0.8,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.service_aliases: dict[str, str] = {}
        self.places: list[str] = []

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> VietnameseEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        if self.config["learn_from_data"]:
            self.service_aliases, self.places = learn_from_data(training_data)
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / _STATE_FILE).write_text(
                json.dumps({"services": self.service_aliases, "places": self.places},
                           ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> VietnameseEntityExtractor:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                state = json.loads((model_dir / _STATE_FILE).read_text(encoding="utf-8"))
            component.service_aliases = state["services"]
            component.places = state["places"]
        except (ValueError, FileNotFoundError):
            logger.debug("VietnameseEntityExtractor: no learned aliases, rules only.")
        return component

    def _keep(self, ent: Entity, text: str, intent: str | None) -> bool:
        if ent.entity not in self.config["entities"]:
            return False
        if not intent:
            return True
        if ent.entity == "service":
            allowed = self.config["service_intents"]
            span = fold(text[ent.start:ent.end]).replace(" ", "")
            return not allowed or intent in allowed or ent.value.lower() in span
        if ent.entity == "location":
            allowed = self.config["location_intents"]
            return not allowed or intent in allowed
        return True

    def service_code(self, span: str) -> str | None:
        """The catalog code a (learned) service mention stands for, if any."""
        found = extract_services(span, self.service_aliases)
        if found:
            return found[0].value
        key = alias_key(span).replace(" ", "")
        if not key:
            return None
        aliases = {**self.service_aliases, **catalog_aliases()}
        best, code = 0.0, None
        for alias, value in aliases.items():
            ratio = difflib.SequenceMatcher(None, key, alias.replace(" ", "")).ratio()
            if ratio > best:
                best, code = ratio, value
        return code if best >= self.config["service_similarity"] else None

    def _learned(self, text: str, ent: Mapping[str, Any]) -> Entity | None:
        """A learned span as a contract entity (normalised), or None."""
        kind = ent["entity"]
        start, end = ent["start"], ent["end"]
        if kind in self.config["rule_only"]:
            return None
        if kind == "service":
            code = self.service_code(text[start:end])
            return Entity(kind, start, end, code) if code else None
        if kind == "location":
            span = with_admin_prefix(text, Entity(kind, start, end, ""))
            return Entity(kind, span.start, span.end, text[span.start:span.end])
        return Entity(kind, start, end, str(ent.get("value") or text[start:end]))

    def extract(self, text: str, intent: str | None = None,
                learned: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Entities of `text`; `intent` (predicted before us) filters generic matches,
        `learned` (spans of LearnedEntityExtractor) confirms them or adds new ones."""
        learned = list(learned)
        rules = extract_all(text, self.service_aliases, self.places)

        def confirmed(e: Entity) -> bool:
            return any(x["entity"] == e.entity and x["start"] < e.end and e.start < x["end"]
                       for x in learned)

        out: list[dict[str, Any]] = [e.as_dict(self.name) for e in rules
               if e.entity in self.config["entities"]
               and (self._keep(e, text, intent) or confirmed(e))]
        for x in learned:
            if any(x["start"] < e.end and e.start < x["end"] for e in rules):
                continue
            ent = self._learned(text, x)
            if ent is not None and all(ent.end <= o["start"] or ent.start >= o["end"]
                                       for o in out):
                out.append(ent.as_dict(x.get("extractor") or self.name))
        return sorted(out, key=lambda e: e["start"])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text:
                continue
            intent = (message.get(INTENT) or {}).get("name")
            learned = message.get(LEARNED_ENTITIES) or []
            place = bare_place(text, self.places, learned)
            if place is not None and intent not in self.config["bare_place_intents"]:
                # A message that is only a place name answers "where?": an `inform`, for
                # certain (the others get 0, so the clarify rule has nothing to weigh).
                intent = "inform"
                message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
                ranking = [{**r, "confidence": 0.0} for r in message.get(INTENT_RANKING_KEY) or []
                           if r.get("name") != intent]
                message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}, *ranking],
                            add_to_output=True)
            entities = self.extract(text, intent, learned)
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages


# Words around a bare answer that do not change its meaning ("Cầu Giấy ạ", "ở q3 nhé").
_FILLERS = {"a", "ah", "nhe", "nha", "nhá", "ne", "o", "tai", "khu", "em", "minh", "toi",
            "chi", "anh", "dang", "song", "ben"}


def bare_place(text: str, places: Any,
               learned: Iterable[Mapping[str, Any]] = ()) -> Entity | None:
    """The location entity when the message is nothing but a place (and filler words);
    a place the rules do not know counts when the learned extractor found it."""
    found = [e for e in extract_all(text, {}, places) if e.entity == "location"]
    if not found:
        found = [Entity("location", x["start"], x["end"], text[x["start"]:x["end"]])
                 for x in learned if x["entity"] == "location"]
    if len(found) != 1:
        return None
    ent = found[0]
    rest = fold(text[:ent.start] + " " + text[ent.end:])
    words = [w for w in "".join(c if c.isalnum() else " " for c in rest).split()]
    return ent if all(w in _FILLERS for w in words) else None
