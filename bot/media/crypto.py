"""Encryption at rest of the stored photos: AES-256-GCM, a fresh 96-bit nonce per file, the
storage key as associated data (a blob copied under another key does not decrypt).

The 256-bit key is derived (HKDF-SHA256) from the secret BOT_MEDIA_KEY (at least 32 random
characters, bot/secrets.py); a development machine gets one in `.data/secrets.env`.
Rotation: BOT_MEDIA_KEY_PREVIOUS is tried when the current key does not open a file (new
files always use the current key); once the retention period has passed, drop it."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"BMv1"
NONCE_BYTES = 12
_INFO = b"bot.media photos at rest"


class MediaKeyError(RuntimeError):
    """The photo cannot be decrypted with the configured key(s)."""


def derive_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode("utf-8"))


class Cipher:
    def __init__(self, secret: str, previous: str | None = None) -> None:
        self._current = AESGCM(derive_key(secret))
        self._previous = AESGCM(derive_key(previous)) if previous else None

    def encrypt(self, key: str, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._current.encrypt(nonce, plain, key.encode())

    def decrypt(self, key: str, blob: bytes) -> bytes:
        if not blob.startswith(MAGIC):
            raise MediaKeyError("not an encrypted media file")
        nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
        body = blob[len(MAGIC) + NONCE_BYTES:]
        for aead in (self._current, self._previous):
            if aead is None:
                continue
            try:
                return aead.decrypt(nonce, body, key.encode())
            except InvalidTag:
                continue
        raise MediaKeyError("the media key does not open this file")
