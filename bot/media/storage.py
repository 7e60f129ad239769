"""Where the encrypted photos live: one small interface, two implementations.

- `LocalDirectory(path)`: files `<path>/<k[:2]>/<key>` (mode 0600, directories 0700).
  Default `BOT_MEDIA_DIR`, else `.data/media`. One machine, or a shared volume.
- `S3Bucket(bucket, prefix, endpoint_url)`: any S3-compatible store (AWS S3, MinIO, Ceph,
  Viettel/FPT object storage) through boto3 (installed with Rasa). Configured by
  `BOT_MEDIA_S3_BUCKET`, `BOT_MEDIA_S3_PREFIX`, `BOT_MEDIA_S3_ENDPOINT`; credentials the
  standard way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an instance role). The bytes
  are already encrypted by us; server-side encryption of the bucket may be added on top.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

_KEY = re.compile(r"^[0-9a-f]{32}$")


def _checked(key: str) -> str:
    if not _KEY.match(key):  # keys are ours: nothing from outside becomes a path
        raise ValueError("invalid media key")
    return key


class BlobStorage(Protocol):
    def put(self, key: str, blob: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def delete(self, key: str) -> bool: ...
    def list_keys(self, older_than: datetime | None = None) -> list[str]: ...


class LocalDirectory:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key

    def put(self, key: str, blob: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def list_keys(self, older_than: datetime | None = None) -> list[str]:
        """Stored keys (only those written before `older_than`, when given)."""
        if not self.root.is_dir():
            return []
        limit = older_than.timestamp() if older_than else None
        return sorted(p.name for p in self.root.glob("*/*") if _KEY.match(p.name)
                      and (limit is None or p.stat().st_mtime < limit))


class S3Bucket:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 client: Any = None) -> None:
        if client is None:
            import boto3  # installed with Rasa; only production needs it

            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, key: str, blob: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=blob,
                               ContentType="application/octet-stream")

    def get(self, key: str) -> bytes | None:
        try:
            result = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:  # botocore's ClientError NoSuchKey
            if "NoSuchKey" in type(exc).__name__ or "NoSuchKey" in str(exc):
                return None
            raise
        body: bytes = result["Body"].read()
        return body

    def delete(self, key: str) -> bool:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        return True

    def list_keys(self, older_than: datetime | None = None) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(self.prefix):]
                written = item.get("LastModified")
                if older_than is not None and isinstance(written, datetime) and \
                        written.astimezone(timezone.utc) >= older_than:
                    continue
                if _KEY.match(name):
                    found.append(name)
        return sorted(found)
