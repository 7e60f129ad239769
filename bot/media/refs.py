"""How a stored photo is named in an update request and in the conversation:
`media:<key>:<digest>`. The key is random (it says nothing about the customer); the digest
is a short hash of the decoded pixels, so two sends of the same picture are recognised
(the "same photo again" check) without opening either."""

from __future__ import annotations

import re

PREFIX = "media:"
_REF = re.compile(r"^media:([0-9a-f]{32}):([0-9a-f]{16})$")


def make_ref(key: str, digest: str) -> str:
    return f"{PREFIX}{key}:{digest[:16]}"


def parse_ref(ref: object) -> tuple[str, str] | None:
    """(key, digest) of a media reference; None for anything else (a Telegram file id, a
    typed link)."""
    match = _REF.match(ref) if isinstance(ref, str) else None
    return (match.group(1), match.group(2)) if match else None


def is_media_ref(ref: object) -> bool:
    return parse_ref(ref) is not None


def same_photo(a: object, b: object) -> bool:
    """Both are stored photos of the same picture."""
    pa, pb = parse_ref(a), parse_ref(b)
    return pa is not None and pb is not None and pa[1] == pb[1]
