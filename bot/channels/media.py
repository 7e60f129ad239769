"""Photos a customer sends, fetched from the channel into the media store (bot/media).

The channels call one function each, right before the message goes to Rasa:

    await fetch_telegram_photos(bot, metadata)   # Telegram getFile + download
    await fetch_zalo_photos(metadata)            # Zalo's attachment URL

Both replace `metadata["photos"]` (Telegram file ids, Zalo CDN URLs) by media references
(`media:<key>:<digest>`) of the checked, metadata-free, encrypted copies. A photo that is
refused (not a JPEG/PNG, too large, too small) or cannot be fetched leaves no reference and
sets `metadata["photo_problem"]` to the code; the update form answers it
(`utter_photo_<code>` in domain.yml) and asks again. Downloads go through the configurable
base URLs (TELEGRAM_FILE_BASE_URL; ZALO_MEDIA_HOSTS lists the hosts Zalo's attachment URLs
may point to), are capped at `media.max_bytes` and never follow redirects.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot
from telegram.error import TelegramError

from bot.media import PhotoRejected, StoredPhoto, media_settings, media_store

logger = logging.getLogger(__name__)

PROBLEM_KEY = "photo_problem"
FETCH_FAILED = "fetch_failed"
# Zalo serves attachments from its CDNs; ZALO_MEDIA_HOSTS (comma-separated host names or
# parent domains) replaces this list, e.g. for a test server on 127.0.0.1.
DEFAULT_ZALO_MEDIA_HOSTS = ("zdn.vn", "zadn.vn", "zalo.me", "zaloapp.com")


async def _store(raw: bytes) -> StoredPhoto:
    return await asyncio.to_thread(media_store().save_photo, raw)


def _limits() -> tuple[int, float]:
    settings = media_settings()
    return int(settings["max_bytes"]), float(settings["fetch_timeout_s"])


def _outcome(metadata: dict[str, Any], refs: list[str], problem: str | None) -> None:
    metadata["photos"] = refs
    if problem and not refs:
        metadata[PROBLEM_KEY] = problem


async def fetch_telegram_photos(bot: Bot, metadata: dict[str, Any]) -> None:
    """Telegram file ids in metadata["photos"] -> media references."""
    max_bytes, timeout = _limits()
    refs: list[str] = []
    problem: str | None = None
    for file_id in metadata.get("photos") or []:
        try:
            file = await bot.get_file(str(file_id), read_timeout=timeout)
            if file.file_size is not None and file.file_size > max_bytes:
                raise PhotoRejected("too_large")
            raw = bytes(await file.download_as_bytearray(read_timeout=timeout))
            refs.append((await _store(raw)).ref)
        except PhotoRejected as exc:
            problem = exc.code
        except (TelegramError, OSError, asyncio.TimeoutError) as exc:
            logger.warning("Telegram photo could not be fetched: %s", type(exc).__name__)
            problem = FETCH_FAILED
    _outcome(metadata, refs, problem)


def zalo_media_hosts() -> tuple[str, ...]:
    raw = os.environ.get("ZALO_MEDIA_HOSTS")
    if raw is None:
        return DEFAULT_ZALO_MEDIA_HOSTS
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def zalo_url_allowed(url: str) -> bool:
    """Only Zalo's own hosts (or a configured test server): the URL is in the event, and a
    fetch must never be pointed at our internal network."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return False
    allowed = zalo_media_hosts()
    if parts.scheme == "http" and host not in allowed:
        return False  # plain http only for an explicitly listed host (tests)
    return any(host == h or host.endswith("." + h) for h in allowed)


async def _download(url: str, max_bytes: int, timeout: float) -> bytes:
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session, session.get(
            url, allow_redirects=False) as resp:
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status}")
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise PhotoRejected("too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > max_bytes:
                raise PhotoRejected("too_large")
            chunks.append(chunk)
        return b"".join(chunks)


async def fetch_zalo_photos(metadata: dict[str, Any]) -> None:
    """Zalo attachment URLs in metadata["photos"] -> media references."""
    max_bytes, timeout = _limits()
    refs: list[str] = []
    problem: str | None = None
    for url in metadata.get("photos") or []:
        if not zalo_url_allowed(str(url)):
            logger.warning("Zalo attachment from a host that is not Zalo's refused")
            problem = FETCH_FAILED
            continue
        try:
            refs.append((await _store(await _download(str(url), max_bytes, timeout))).ref)
        except PhotoRejected as exc:
            problem = exc.code
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            logger.warning("Zalo photo could not be fetched: %s", type(exc).__name__)
            problem = FETCH_FAILED
    _outcome(metadata, refs, problem)
