"""Where the export goes: S3 on AWS, a directory locally, in the same layout.

    <prefix>/year=YYYY/month=MM/day=DD/part-HH.jsonl.gz    one per Vietnam-local hour
    <prefix>/year=YYYY/month=MM/day=DD/_manifest.json       counts, checksums, run history

Parts are gzip with mtime 0 and a fixed inner file name, so the same rows always give the same
bytes: a re-run rewrites nothing (an identical object is left alone) and never duplicates rows.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

EXPORT_PREFIX = "user-actions"
MANIFEST_NAME = "_manifest.json"
PART_CONTENT_TYPE = "application/gzip"
_ROWS_PER_CHUNK = 5_000


def day_prefix(day: date, prefix: str = EXPORT_PREFIX) -> str:
    return f"{prefix}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}/"


def part_name(hour: int) -> str:
    return f"part-{hour:02d}.jsonl.gz"


@dataclass(frozen=True, slots=True)
class EncodedPart:
    hour: int
    data: bytes
    events: int
    sha256: str

    @property
    def name(self) -> str:
        return part_name(self.hour)


def encode_part(hour: int, rows: list[str]) -> EncodedPart:
    """JSON lines, gzip-compressed reproducibly (mtime 0, fixed file name)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename=f"part-{hour:02d}.jsonl", mode="wb", fileobj=buffer, mtime=0, compresslevel=6
    ) as compressed:
        for start in range(0, len(rows), _ROWS_PER_CHUNK):
            compressed.write(("\n".join(rows[start : start + _ROWS_PER_CHUNK]) + "\n").encode())
    data = buffer.getvalue()
    return EncodedPart(hour, data, len(rows), hashlib.sha256(data).hexdigest())


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()


class Sink(Protocol):
    def has_part(self, day: date, part: EncodedPart) -> bool:
        """Whether an identical object is already there (a re-run then writes nothing)."""

    def put_part(self, day: date, part: EncodedPart) -> None: ...

    def get_manifest(self, day: date) -> dict[str, Any] | None: ...

    def put_manifest(self, day: date, manifest: dict[str, Any]) -> None: ...

    def part_location(self, day: date, hour: int) -> str: ...

    def manifest_location(self, day: date) -> str: ...


class S3Sink:
    """Objects in the analytics bucket, encrypted at rest (SSE) and integrity-checked on upload.

    The Lambda may list only the export prefix (s3:ListBucket with an s3:prefix condition), and
    without list rights S3 answers 403, not 404, for a missing key. So the sink lists the day's
    prefix once and reads only objects it knows exist.
    """

    def __init__(
        self, client, bucket: str, *, prefix: str = EXPORT_PREFIX, server_side_encryption: str = "AES256"
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.server_side_encryption = server_side_encryption
        self._listed: dict[date, set[str]] = {}

    def part_key(self, day: date, hour: int) -> str:
        return day_prefix(day, self.prefix) + part_name(hour)

    def manifest_key(self, day: date) -> str:
        return day_prefix(day, self.prefix) + MANIFEST_NAME

    def part_location(self, day: date, hour: int) -> str:
        return f"s3://{self.bucket}/{self.part_key(day, hour)}"

    def manifest_location(self, day: date) -> str:
        return f"s3://{self.bucket}/{self.manifest_key(day)}"

    def has_part(self, day: date, part: EncodedPart) -> bool:
        key = self.part_key(day, part.hour)
        return key in self._existing(day) and self._stored_sha256(key) == part.sha256

    def put_part(self, day: date, part: EncodedPart) -> None:
        metadata = {"sha256": part.sha256, "events": str(part.events)}
        self._put(day, self.part_key(day, part.hour), part.data, PART_CONTENT_TYPE, metadata)

    def get_manifest(self, day: date) -> dict[str, Any] | None:
        key = self.manifest_key(day)
        if key not in self._existing(day):
            return None
        return json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_manifest(self, day: date, manifest: dict[str, Any]) -> None:
        self._put(day, self.manifest_key(day), encode_manifest(manifest), "application/json", {})

    def _existing(self, day: date) -> set[str]:
        if day not in self._listed:
            keys: set[str] = set()
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=day_prefix(day, self.prefix)):
                keys.update(item["Key"] for item in page.get("Contents", ()))
            self._listed[day] = keys
        return self._listed[day]

    def _stored_sha256(self, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None  # deleted since the listing
            raise
        return head.get("Metadata", {}).get("sha256")

    def _put(self, day: date, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=metadata,
            ServerSideEncryption=self.server_side_encryption,
            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
        )
        self._existing(day).add(key)


class LocalDirectorySink:
    """The same layout under a local directory (`.data/analytics` for `make analytics`)."""

    def __init__(self, root: str | os.PathLike, *, prefix: str = EXPORT_PREFIX) -> None:
        self.root = Path(root)
        self.prefix = prefix

    def day_dir(self, day: date) -> Path:
        return self.root / day_prefix(day, self.prefix)

    def part_location(self, day: date, hour: int) -> str:
        return str(self.day_dir(day) / part_name(hour))

    def manifest_location(self, day: date) -> str:
        return str(self.day_dir(day) / MANIFEST_NAME)

    def has_part(self, day: date, part: EncodedPart) -> bool:
        path = self.day_dir(day) / part.name
        return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == part.sha256

    def put_part(self, day: date, part: EncodedPart) -> None:
        _write_atomically(self.day_dir(day) / part.name, part.data)

    def get_manifest(self, day: date) -> dict[str, Any] | None:
        path = self.day_dir(day) / MANIFEST_NAME
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def put_manifest(self, day: date, manifest: dict[str, Any]) -> None:
        _write_atomically(self.day_dir(day) / MANIFEST_NAME, encode_manifest(manifest))


def _write_atomically(path: Path, data: bytes) -> None:
    # Readers never see half a part: write beside it, then rename over it.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
