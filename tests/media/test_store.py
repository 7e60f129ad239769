"""The media store: photos checked by content, stripped of metadata, encrypted at rest,
readable only with the key, deleted on purge; the S3 interface."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.media import PhotoRejected, is_media_ref, parse_ref, same_photo
from bot.media.crypto import Cipher, MediaKeyError
from bot.media.storage import LocalDirectory, S3Bucket
from bot.media.store import MediaStore
from tests.media.conftest import KEY
from tests.media.photos import FAKE_JPEG_NAME_ONLY, NOT_AN_IMAGE, gif, jpeg_with_gps, png


def _files(media: MediaStore) -> list:
    return [p for p in media.storage.root.rglob("*") if p.is_file()]


def test_a_jpeg_is_stored_encrypted_and_comes_back_without_exif(media):
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get(0x8825) is not None  # GPS is there
    stored = media.save_photo(raw)
    assert is_media_ref(stored.ref) and stored.mime == "image/jpeg"
    assert (stored.width, stored.height) == (640, 480)
    [path] = _files(media)
    at_rest = path.read_bytes()
    assert b"\xff\xd8" not in at_rest[:64] and b"JFIF" not in at_rest and b"Exif" not in at_rest
    assert b"PhoneMaker" not in at_rest
    assert path.stat().st_mode & 0o077 == 0  # only the service account reads it
    data, mime = media.load(stored.ref)
    assert mime == "image/jpeg" and data.startswith(b"\xff\xd8")
    back = Image.open(io.BytesIO(data))
    assert back.format == "JPEG" and back.size == (640, 480)
    assert len(back.getexif()) == 0 and b"PhoneMaker" not in data and b"Exif" not in data


def test_exif_orientation_is_applied_before_it_is_dropped(media):
    stored = media.save_photo(jpeg_with_gps(640, 480, orientation=6))  # rotated 90 degrees
    data, _ = media.load(stored.ref)
    assert Image.open(io.BytesIO(data)).size == (480, 640)


def test_png_text_chunks_are_dropped(media):
    raw = png()
    assert b"12 Le Loi" in raw
    data, mime = media.load(media.save_photo(raw).ref)
    assert mime == "image/png" and b"12 Le Loi" not in data
    assert Image.open(io.BytesIO(data)).format == "PNG"


@pytest.mark.parametrize("raw, code", [
    (NOT_AN_IMAGE, "not_image"),
    (FAKE_JPEG_NAME_ONLY, "not_image"),
    (gif(), "not_image"),  # an image, but not a JPEG or PNG
    (jpeg_with_gps()[:400], "not_image"),  # truncated
    (jpeg_with_gps(200, 150), "too_small"),
])
def test_refused_by_content(media, raw, code):
    with pytest.raises(PhotoRejected) as refused:
        media.save_photo(raw)
    assert refused.value.code == code
    assert _files(media) == []


def test_too_many_bytes_or_pixels(media):
    media.limits = {**media.limits, "max_bytes": 1000}
    with pytest.raises(PhotoRejected, match="too_large"):
        media.save_photo(jpeg_with_gps())
    media.limits = {**media.limits, "max_bytes": 10 ** 7, "max_pixels": 100_000}
    with pytest.raises(PhotoRejected, match="too_large"):
        media.save_photo(jpeg_with_gps(640, 480))


def test_same_picture_twice_is_recognised(media):
    first = media.save_photo(jpeg_with_gps())
    again = media.save_photo(jpeg_with_gps())
    other = media.save_photo(jpeg_with_gps(color=(10, 200, 10)))
    assert first.ref != again.ref  # two files, two random keys
    assert same_photo(first.ref, again.ref) and not same_photo(first.ref, other.ref)
    assert not same_photo(first.ref, "AgACAgUAAxkBAAIB")  # a Telegram file id


def test_another_key_cannot_read_and_a_swapped_file_does_not_decrypt(media, tmp_path):
    a, b = media.save_photo(jpeg_with_gps()), media.save_photo(png())
    stranger = MediaStore(media.storage, Cipher("another-key-0f9e8d7c6b5a49382716afbecd"))
    with pytest.raises(MediaKeyError):
        stranger.load(a.ref)
    key_a, key_b = parse_ref(a.ref)[0], parse_ref(b.ref)[0]
    media.storage.put(key_a, media.storage.get(key_b))  # a blob moved under another name
    with pytest.raises(MediaKeyError):
        media.load(a.ref)


def test_rotation_reads_old_files_with_the_previous_key(media):
    stored = media.save_photo(jpeg_with_gps())
    rotated = MediaStore(media.storage, Cipher("new-media-key-1a2b3c4d5e6f7a8b9c0d1e2f3a", KEY))
    assert rotated.load(stored.ref)[1] == "image/jpeg"


def test_delete_and_bad_references(media):
    stored = media.save_photo(jpeg_with_gps())
    assert media.delete(stored.ref) and media.load(stored.ref) is None
    assert not media.delete(stored.ref)
    assert media.load("../../etc/passwd") is None and media.load("media:zz:yy") is None
    with pytest.raises(ValueError):
        LocalDirectory("/tmp").get("../../etc/passwd")


class FakeS3:
    """The four boto3 S3 client calls the store makes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803 - boto3's names
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket, Key):  # noqa: N803
        if (Bucket, Key) not in self.objects:
            raise KeyError("NoSuchKey")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def delete_object(self, Bucket, Key):  # noqa: N803
        self.objects.pop((Bucket, Key), None)

    def get_paginator(self, name):
        store = self

        class Pages:
            def paginate(self, Bucket, Prefix):  # noqa: N803
                yield {"Contents": [{"Key": k} for (b, k) in store.objects
                                    if b == Bucket and k.startswith(Prefix)]}
        return Pages()


def test_s3_compatible_storage_holds_only_ciphertext():
    s3 = FakeS3()
    bucket = S3Bucket("photos", "decree49", client=s3)
    store = MediaStore(bucket, Cipher(KEY))
    stored = store.save_photo(jpeg_with_gps())
    [(name, blob)] = [(k, v) for (b, k), v in s3.objects.items() if b == "photos"]
    assert name == "decree49/" + parse_ref(stored.ref)[0]
    assert b"JFIF" not in blob and b"PhoneMaker" not in blob
    assert bucket.list_keys() == [parse_ref(stored.ref)[0]]
    assert store.load(stored.ref)[1] == "image/jpeg"
    assert store.delete(stored.ref) and store.load(stored.ref) is None
