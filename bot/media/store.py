"""The media store: check -> strip -> encrypt -> store, and back for the review desk.

`media_store()` is the process-wide store configured from the environment (storage.py for
the variables; the key BOT_MEDIA_KEY, crypto.py); tests build `MediaStore(...)` directly
or inject one with `set_media_store`."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import secrets as bot_secrets
from bot import settings
from bot.brand import operator
from bot.media.checks import check_photo
from bot.media.crypto import Cipher
from bot.media.refs import make_ref, parse_ref
from bot.media.storage import BlobStorage, LocalDirectory, S3Bucket

KEY_VAR, PREVIOUS_KEY_VAR = "BOT_MEDIA_KEY", "BOT_MEDIA_KEY_PREVIOUS"
# A stored file starts with a one-line content type, then the image bytes (all encrypted).
_SEPARATOR = b"\n"


def media_settings() -> dict[str, Any]:
    """bot/operator.yml `media:` (limits, retention)."""
    return dict(operator()["media"])


@dataclass(frozen=True)
class StoredPhoto:
    ref: str  # media:<key>:<digest>
    mime: str
    width: int
    height: int
    size: int = field(default=0)


class MediaStore:
    def __init__(self, storage: BlobStorage, cipher: Cipher,
                 limits: dict[str, Any] | None = None) -> None:
        self.storage, self.cipher = storage, cipher
        self.limits = limits or media_settings()

    def save_photo(self, raw: bytes) -> StoredPhoto:
        """Check (PhotoRejected), strip metadata, encrypt, store."""
        photo = check_photo(raw, self.limits)
        key = secrets.token_hex(16)
        plain = photo.mime.encode() + _SEPARATOR + photo.data
        self.storage.put(key, self.cipher.encrypt(key, plain))
        return StoredPhoto(make_ref(key, photo.digest), photo.mime, photo.width, photo.height,
                           len(photo.data))

    def load(self, ref: str) -> tuple[bytes, str] | None:
        """(image bytes, content type), decrypted; None when it is gone (purged)."""
        parsed = parse_ref(ref)
        if parsed is None:
            return None
        blob = self.storage.get(parsed[0])
        if blob is None:
            return None
        plain = self.cipher.decrypt(parsed[0], blob)
        mime, _, data = plain.partition(_SEPARATOR)
        return data, mime.decode()

    def delete(self, ref: str) -> bool:
        parsed = parse_ref(ref)
        return self.storage.delete(parsed[0]) if parsed else False

    def delete_unreferenced(self, in_use: set[str], older_than: datetime) -> int:
        """Delete the photos written before `older_than` that no request refers to (sent in
        a chat whose form was abandoned, refused as a repeat...). Returns how many."""
        keep = {parsed[0] for parsed in map(parse_ref, in_use) if parsed}
        return sum(int(self.storage.delete(key)) for key in self.storage.list_keys(older_than)
                   if key not in keep)


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not bot_secrets.weakness(value):
        return value or ""
    if settings.env() == "prod":
        return bot_secrets.require(name)  # SystemExit with the reason
    return bot_secrets.development_secrets()[name]


def storage_from_env() -> BlobStorage:
    bucket = os.environ.get("BOT_MEDIA_S3_BUCKET")
    if bucket:
        return S3Bucket(bucket, os.environ.get("BOT_MEDIA_S3_PREFIX", ""),
                        os.environ.get("BOT_MEDIA_S3_ENDPOINT"))
    return LocalDirectory(os.environ.get("BOT_MEDIA_DIR") or settings.DATA_DIR / "media")


_lock = threading.Lock()
_store: MediaStore | None = None


def media_store() -> MediaStore:
    global _store
    with _lock:
        if _store is None:
            _store = MediaStore(storage_from_env(),
                                Cipher(_secret(KEY_VAR), os.environ.get(PREVIOUS_KEY_VAR)))
        return _store


def set_media_store(store: MediaStore | None) -> None:
    """Tests: inject a store (None: build from the environment again)."""
    global _store
    with _lock:
        _store = store
