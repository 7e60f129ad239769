"""What agents may read of a conversation: `for_agent(text)`.

Customers type their ID number, date of birth and phone numbers (the update form asks for
them) and the assistant repeats them in the form's confirmation ("- Họ tên: …", "- Số giấy
tờ: …"). Whatever is copied into a hand-off ticket (summary, transcript, messages synced
while the agent owns the chat) goes through `for_agent` first, and the console redacts
again on the way out (tickets stored before this existed):

- `bot.privacy.redact_text`: dates and long digit runs (ID numbers, phone numbers, codes)
  masked, last 3 digits kept;
- the name and address lines of the assistant's update-form confirmation masked like the
  backend's masked profile ('Nguyễn Văn An' -> 'N** V** An', address -> '***');
- the operator's own public numbers (hotline 18001090...) stay readable.

Names typed in free text cannot be recognised; they are never logged either.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.brand import operator
from bot.handoff.texts import handoff_texts
from bot.privacy import redact_text


def _label_line(labels: list[str]) -> re.Pattern[str]:
    """'- <label>: <value>' lines, any of `labels`, any case."""
    alternatives = "|".join(re.escape(label) for label in labels)
    return re.compile(rf"(?im)^(\s*-?\s*(?:{alternatives})\s*:\s*)(\S.*)$")


# Labels of the update form's confirmation (utter_summary_label_* in domain.yml) whose
# values are personal and not caught by redact_text: texts.yml `redaction`.
_NAME_LINE = _label_line(handoff_texts.raw("redaction.name_labels"))
_ADDRESS_LINE = _label_line(handoff_texts.raw("redaction.address_labels"))
_PLACEHOLDER = "\ue000{}\ue001"
_PLACEHOLDER_RE = re.compile("\ue000([a-z])\ue001")


def _mask_name(name: str) -> str:
    parts = name.split()
    return " ".join([p[0] + "**" for p in parts[:-1]] + parts[-1:])


@lru_cache(maxsize=1)
def _public_numbers() -> re.Pattern[str] | None:
    """The operator's published numbers (hotlines, short codes), as whole tokens: not
    glued to other digits, also not through the separators people type inside numbers."""
    profile = operator()
    found = {str(profile.get(key) or "") for key in ("hotline", "hotline_free")}
    found |= {str((profile.get(key) or {}).get("to") or "")
              for key in ("info_sms", "services_sms")}
    numbers = sorted((n for n in found if n.isdigit()), key=len, reverse=True)
    if not numbers:
        return None
    alternatives = "|".join(re.escape(n) for n in numbers)
    return re.compile(rf"(?<![\d+])(?<!\d[ .\-])({alternatives})(?![ .\-]?\d)")


def for_agent(text: str | None) -> str:
    """`text` with the personal data an agent must not read masked."""
    if not text:
        return text or ""
    text = text.replace("\ue000", "").replace("\ue001", "")  # only ours below
    kept: list[str] = []
    public = _public_numbers()
    if public is not None:
        def keep(match: re.Match[str]) -> str:
            kept.append(match.group(0))
            return _PLACEHOLDER.format(chr(ord("a") + len(kept) - 1))

        if len(public.findall(text)) <= 26:
            text = public.sub(keep, text)
        else:  # absurd input: no exemption at all
            kept.clear()
    text = redact_text(text)
    text = _NAME_LINE.sub(lambda m: m.group(1) + _mask_name(m.group(2)), text)
    text = _ADDRESS_LINE.sub(lambda m: m.group(1) + "***", text)
    if kept:
        text = _PLACEHOLDER_RE.sub(lambda m: kept[ord(m.group(1)) - ord("a")]
                                   if ord(m.group(1)) - ord("a") < len(kept) else "", text)
    return text
