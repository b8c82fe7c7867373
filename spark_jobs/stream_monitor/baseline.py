"""Records per minute of processing, and the moving baseline that scores them.

``MinuteVolumes`` adds up what each micro-batch read into whole minutes of processing time
(UTC) and closes a minute once no batch of it can still be running, with zero for a minute
without any record: Spark runs no micro-batch while nothing arrives, and a silent minute is
exactly what a volume-drop alert must see. The minute in which the monitor started is only
partly observed and is never closed.

``VolumeBaseline`` keeps, per topic and UTC hour of the day, an exponentially weighted
moving average (EWMA) of records per minute and of its variance, so the expected volume
follows the daily traffic curve: 14:00 is compared with the recent 14:00s, not with the
night. Each closed minute is scored first, then learnt:

* score ``z = (x - mean) / sd`` with ``sd = sqrt(max(var, mean, 1))``; the floor is the
  Poisson noise of a count, so a quiet, steady topic does not score 10 for two extra
  records;
* ``mean += a (x - mean)`` and ``var = (1 - a) (var + a (x - mean)^2)`` (the incremental
  EWMA of the variance) with ``a = max(ALPHA, 1/n)`` for the bucket's n-th sample: a plain
  average of its first samples, then an EWMA whose weight ``ALPHA`` = 0.02 per minute
  gives the last day of that hour about 70 % of the weight. The variance so also holds
  how much the curve moves within the hour, which keeps the start of a steep hour quiet;
* ``a = ALPHA / 10`` when ``|z| >= ANOMALY_Z``, so an outage or a flood is not learnt as
  normal within the 10 minutes the alerts wait, while a lasting change of level is still
  learnt within a day or two;
* the score is 0 until a bucket has ``WARMUP`` samples: on its first day the monitor scores
  each hour from its 11th minute on. Until an hour has samples, the expected volume is the
  hour before it.

The state is a small JSON document (``to_json`` / ``from_json``) that the job keeps next to
its checkpoint, so a restart keeps what the baseline learnt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ALPHA = 0.02
ANOMALY_ALPHA = ALPHA / 10
ANOMALY_Z = 3.0
WARMUP = 10
MINUTE = timedelta(minutes=1)
FORMAT_VERSION = 1


def minute_start(at: datetime) -> datetime:
    """The UTC minute that contains ``at``."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class Bucket:
    mean: float
    var: float
    samples: int


@dataclass(frozen=True)
class Score:
    expected: float
    score: float


@dataclass
class VolumeBaseline:
    """Per topic and hour of the day: EWMA of records per minute and of its variance."""

    alpha: float = ALPHA
    anomaly_alpha: float = ANOMALY_ALPHA
    anomaly_z: float = ANOMALY_Z
    warmup: int = WARMUP
    buckets: dict[str, dict[int, Bucket]] = field(default_factory=dict)

    def expected(self, topic: str, at: datetime) -> float | None:
        """Records per minute expected at ``at``; None while nothing is known."""
        hours = self.buckets.get(topic, {})
        hour = at.astimezone(UTC).hour
        bucket = hours.get(hour) or hours.get((hour - 1) % 24)
        return bucket.mean if bucket is not None else None

    def observe(self, topic: str, minute: datetime, records: int) -> Score:
        """Score one closed minute against the baseline of its hour, then learn from it."""
        hours = self.buckets.setdefault(topic, {})
        hour = minute.astimezone(UTC).hour
        bucket = hours.get(hour)
        if bucket is None:
            hours[hour] = Bucket(float(records), 0.0, 1)
            return Score(float(records), 0.0)
        deviation = records - bucket.mean
        sd = math.sqrt(max(bucket.var, bucket.mean, 1.0))
        score = deviation / sd if bucket.samples >= self.warmup else 0.0
        expected = bucket.mean
        a = max(self.alpha, 1 / (bucket.samples + 1))
        if abs(score) >= self.anomaly_z:
            a = self.anomaly_alpha
        bucket.mean += a * deviation
        bucket.var = (1 - a) * (bucket.var + a * deviation * deviation)
        bucket.samples += 1
        return Score(expected, score)

    def to_json(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "buckets": {
                topic: {str(h): [b.mean, b.var, b.samples] for h, b in sorted(hours.items())}
                for topic, hours in sorted(self.buckets.items())
            },
        }

    @classmethod
    def from_json(cls, doc: dict) -> VolumeBaseline:
        """The baseline saved by ``to_json``; an unknown format starts a fresh one."""
        baseline = cls()
        if doc.get("version") != FORMAT_VERSION:
            return baseline
        for topic, hours in doc.get("buckets", {}).items():
            baseline.buckets[topic] = {
                int(h): Bucket(float(m), float(v), int(n)) for h, (m, v, n) in hours.items()
            }
        return baseline


@dataclass
class MinuteVolumes:
    """Records per topic and minute of processing, closed once the minute is over."""

    topics: tuple[str, ...]
    started: datetime
    counts: dict[tuple[str, datetime], int] = field(default_factory=dict)
    next_to_close: datetime | None = None

    def __post_init__(self) -> None:
        # The minute the monitor started in is seen only in part: never score it.
        if self.next_to_close is None:
            self.next_to_close = minute_start(self.started) + MINUTE

    def add(self, topic: str, batch_started: datetime, records: int) -> None:
        """Count a micro-batch's records in the minute its trigger fired."""
        minute = minute_start(batch_started)
        if minute >= self.next_to_close:
            self.counts[topic, minute] = self.counts.get((topic, minute), 0) + records

    def close(
        self, now: datetime, running_since: datetime | None
    ) -> list[tuple[str, datetime, int]]:
        """(topic, minute, records) of every minute that is over, oldest first.

        A minute is over when the clock has left it and no micro-batch that started in it
        (``running_since``: the trigger time of the batch in progress) is still running.
        """
        limit = minute_start(now)
        if running_since is not None:
            limit = min(limit, minute_start(running_since))
        closed = []
        while self.next_to_close < limit:
            minute = self.next_to_close
            for topic in self.topics:
                closed.append((topic, minute, self.counts.pop((topic, minute), 0)))
            self.next_to_close = minute + MINUTE
        return closed
