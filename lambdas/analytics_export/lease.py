"""One export of a day at a time, across invocations: a lease object beside the day's manifest.

Two runs of one day (the nightly run and a hand re-run, or the AWS CLI re-sending an invocation
whose answer it stopped waiting for) would each read the manifest, and the later write would drop
the other's run; an older run could also overwrite a newer run's parts. S3's conditional writes
make the lease safe without any other store:

- the first run creates `_export.lease` only if no object is there (If-None-Match: *);
- a later run takes it over only once it is released or has run out, and only with the ETag it
  read (If-Match), so of two runs that find it free, one wins;
- a lease outlives its holder's invocation: it runs out a minute after the Lambda's own deadline,
  so a run killed at its timeout frees the day without anyone's help;
- releasing overwrites it (If-Match its own ETag), so the function needs no delete permission.

Athena skips files whose names start with `_`, like the manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from botocore.exceptions import ClientError

from .export import utcnow
from .manifest import iso
from .sinks import EXPORT_PREFIX, day_prefix
from .windows import parse_timestamp

LEASE_NAME = "_export.lease"
# A run killed at its timeout still holds the lease for this long afterwards.
EXPIRY_MARGIN = timedelta(minutes=1)
POLL_SECONDS = 10.0
# 412: someone else's write came first; 409: S3 was still settling a concurrent conditional write.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


@dataclass(frozen=True)
class Holder:
    """What a lease object says."""

    run_id: str
    trigger: str
    acquired_at: datetime
    expires_at: datetime
    released: bool

    def is_free(self, now: datetime) -> bool:
        return self.released or now >= self.expires_at

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "runId": self.run_id,
            "trigger": self.trigger,
            "acquiredAt": iso(self.acquired_at),
            "expiresAt": iso(self.expires_at),
            "released": self.released,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict()).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Holder | None:
        """None for an object that is not a lease we wrote (a free lease, to be overwritten)."""
        try:
            body = json.loads(data)
            acquired_at = parse_timestamp(body["acquiredAt"])
            expires_at = parse_timestamp(body["expiresAt"])
            if acquired_at is None or expires_at is None:
                return None
            released = body["released"] is True
            return cls(str(body["runId"]), str(body["trigger"]), acquired_at, expires_at, released)
        except (ValueError, TypeError, KeyError):
            return None


class DayBusy(Exception):
    """Another run holds the day, and did not let go within the wait."""

    def __init__(self, day: date, holder: Holder | None) -> None:
        self.day = day
        self.holder = holder
        who = "another run"
        if holder is not None:
            who = f"run {holder.run_id} ({holder.trigger}, since {iso(holder.acquired_at)})"
        super().__init__(f"{who} is exporting {day}; try again once it has finished")


class DayLease:
    """A run's claim on one day's partition: `with lease.held(wait): export...`."""

    def __init__(
        self,
        client,
        bucket: str,
        day: date,
        *,
        run_id: str,
        trigger: str,
        deadline: datetime,
        prefix: str = EXPORT_PREFIX,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.day = day
        self.key = day_prefix(day, prefix) + LEASE_NAME
        self.run_id = run_id
        self.trigger = trigger
        self.expires_at = deadline + EXPIRY_MARGIN
        self.clock = clock
        self.sleep = sleep or time.sleep
        self.seen: Holder | None = None  # the other run, while it holds the day
        self._etag: str | None = None
        self._acquired_at: datetime | None = None

    def acquire(self, wait: timedelta) -> None:
        give_up_at = self.clock() + wait
        while not self._try_take():
            left = (give_up_at - self.clock()).total_seconds()
            if left <= 0:
                raise DayBusy(self.day, self.seen)
            self.sleep(min(POLL_SECONDS, left))

    def release(self) -> None:
        if self._etag is not None and self._acquired_at is not None:
            done = Holder(self.run_id, self.trigger, self._acquired_at, self.expires_at, released=True)
            # Losing here means it was taken over, which only happens after this invocation's end.
            self._write(done, IfMatch=self._etag)
            self._etag = None

    @contextmanager
    def held(self, wait: timedelta) -> Iterator[DayLease]:
        """The day is this run's inside, and released after it, error or not."""
        self.acquire(wait)
        try:
            yield self
        finally:
            self.release()

    def _try_take(self) -> bool:
        """Take the lease if it is free; otherwise note who holds it in `seen`."""
        now = self.clock()
        mine = Holder(self.run_id, self.trigger, now, self.expires_at, released=False)
        if self._write(mine, IfNoneMatch="*"):
            return True
        try:
            stored = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as error:
            if _error_code(error) in ("NoSuchKey", "404"):
                return False  # removed by hand meanwhile: the next try creates it
            raise
        self.seen = Holder.from_json(stored["Body"].read())
        if self.seen is not None and not self.seen.is_free(now):
            return False
        return self._write(mine, IfMatch=stored["ETag"])

    def _write(self, holder: Holder, **condition: str) -> bool:
        """Put `holder` if `condition` still holds; False when another run's write came first."""
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=holder.to_json(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
                **condition,
            )
        except ClientError as error:
            if _error_code(error) in _LOST_RACE:
                return False
            raise
        self._etag = response["ETag"]
        self._acquired_at = holder.acquired_at
        return True


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
