from __future__ import annotations

import pytest

from bot.media import MediaStore, media_settings
from bot.media.crypto import Cipher
from bot.media.storage import LocalDirectory

KEY = "test-media-key-7d2e9a4c1b8f3e6a05d9c2b7e4f1"


@pytest.fixture
def media(tmp_path) -> MediaStore:
    return MediaStore(LocalDirectory(tmp_path / "media"), Cipher(KEY), media_settings())
