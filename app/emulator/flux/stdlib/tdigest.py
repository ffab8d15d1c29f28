"""A faithful port of the merging t-digest Flux uses for ``quantile``/``median`` (``estimate_tdigest``).

Flux feeds every non-null value into ``tdigest.NewWithCompression(c)`` (c = 1000 unless given) and asks
for ``Quantile(q)``. Reproducing the exact algorithm (buffer sizes, merge limits, interpolation) keeps the
emulator's answers equal to InfluxDB's, small inputs included (where it reduces to interpolating between
the two middle values).
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_COMPRESSION = 1000.0


class TDigest:
    """Merging t-digest: ``add`` values, then ``quantile(q)``."""

    def __init__(self, compression: float = DEFAULT_COMPRESSION) -> None:
        self.compression = compression
        self.max_processed = int(2 * math.ceil(compression))
        self.max_unprocessed = int(8 * math.ceil(compression))
        self.means: list[float] = []
        self.weights: list[float] = []
        self.pending: list[float] = []
        self.processed_weight = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add_many(self, values: np.ndarray) -> None:
        """Add each value with weight 1 in order (NaN is ignored), processing whenever a buffer is full."""
        data = np.asarray(values, dtype=np.float64)
        data = data[~np.isnan(data)]
        position = 0
        while position < len(data):
            room = self.max_unprocessed + 1 - len(self.pending)
            chunk = data[position : position + room]
            self.pending.extend(chunk.tolist())
            position += len(chunk)
            if len(self.pending) > self.max_unprocessed or len(self.means) > self.max_processed:
                self._process()

    def _integrated_q(self, k: float) -> float:
        c = self.compression
        return (math.sin(min(k, c) * math.pi / c - math.pi / 2.0) + 1.0) / 2.0

    def _integrated_location(self, q: float) -> float:
        return self.compression * (math.asin(2.0 * q - 1.0) + math.pi / 2.0) / math.pi

    def _process(self) -> None:
        if not self.pending and len(self.means) <= self.max_processed:
            return
        items = sorted(
            [(m, w) for m, w in zip(self.means, self.weights, strict=True)] + [(x, 1.0) for x in self.pending]
        )
        self.processed_weight += float(len(self.pending))
        self.pending = []
        means = [items[0][0]]
        weights = [items[0][1]]
        so_far = items[0][1]
        total = self.processed_weight
        limit = total * self._integrated_q(1.0)
        for mean, weight in items[1:]:
            projected = so_far + weight
            if projected <= limit:
                so_far = projected
                weights[-1] += weight
                means[-1] += weight * (mean - means[-1]) / weights[-1]
            else:
                k1 = self._integrated_location(so_far / total)
                limit = total * self._integrated_q(k1 + 1.0)
                so_far += weight
                means.append(mean)
                weights.append(weight)
        self.means, self.weights = means, weights
        self.min = min(self.min, means[0])
        self.max = max(self.max, means[-1])

    def quantile(self, q: float) -> float | None:
        """The estimate of quantile ``q``; None when nothing was added."""
        self._process()
        if not self.means or q < 0 or q > 1:
            return None
        if len(self.means) == 1:
            return self.means[0]
        cumulative: list[float] = []
        prev = 0.0
        for weight in self.weights:
            cumulative.append(prev + weight / 2.0)
            prev += weight
        cumulative.append(prev)
        index = q * self.processed_weight
        if index <= self.weights[0] / 2.0:
            return self.min + 2.0 * index / self.weights[0] * (self.means[0] - self.min)
        lower = next(i for i, c in enumerate(cumulative) if c >= index)
        if lower + 1 < len(cumulative):
            z1 = index - cumulative[lower - 1]
            z2 = cumulative[lower] - index
            return _weighted_average(self.means[lower - 1], z2, self.means[lower], z1)
        end = len(self.means) - 1
        z1 = index - self.processed_weight - self.weights[end] / 2.0
        z2 = self.weights[end] / 2.0 - z1
        return _weighted_average(self.means[end], z1, self.max, z2)


def _weighted_average(x1: float, w1: float, x2: float, w2: float) -> float:
    if x1 > x2:
        x1, w1, x2, w2 = x2, w2, x1, w1
    x = (x1 * w1 + x2 * w2) / (w1 + w2)
    return max(x1, min(x, x2))


def tdigest_quantile(values: np.ndarray, q: float, compression: float = 0.0) -> float | None:
    """Flux's ``estimate_tdigest`` quantile of ``values`` (compression 0 means the default 1000)."""
    digest = TDigest(compression if compression > 0 else DEFAULT_COMPRESSION)
    digest.add_many(values)
    return digest.quantile(q)


def exact_mean_quantile(values: np.ndarray, q: float) -> float | None:
    """Flux's ``exact_mean``: linear interpolation between the two values around rank q*(n-1)."""
    data = np.sort(np.asarray(values, dtype=np.float64))
    if len(data) == 0:
        return None
    x = q * float(len(data) - 1)
    x0, x1 = math.floor(x), math.ceil(x)
    if x0 == x1:
        return float(data[int(x0)])
    return float(data[int(x0)]) * (x1 - x) + float(data[int(x1)]) * (x - x0)


def exact_selector_index(n: int, q: float) -> int:
    """Flux's ``exact_selector``: the rank (in value order) of the row to return."""
    index = math.ceil(q * float(n))
    return index - 1 if index > 0 else index
