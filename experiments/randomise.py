"""Reproducible, concealed allocation sequences for a trial, one stream per stratum.

Every allocation is a pure function of ``(scheme, seed, stratum, index)``: the k-th unit
enrolled in a stratum receives the k-th slot of that stratum's sequence. The sequence is
driven by SHA-256 over short UTF-8 texts, never by ``random`` or numpy, so a statistician
can re-derive any allocation by hand or in R from ``docs/randomisation.md``.

The caller persists only how many slots of each stratum it has consumed; this module keeps
no global state.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "Arm",
    "MAX_BLOCK_SIZE",
    "AllocationScheme",
    "Method",
    "Slot",
    "StratumSequence",
    "UNSTRATIFIED",
    "iter_slots",
    "slot_at",
    "slots",
    "stratum_key",
    "uniform_below",
]

Method = Literal["simple", "permuted_blocks"]
METHODS: tuple[str, ...] = get_args(Method)

MAX_BLOCK_SIZE = 1000
"""The largest block a scheme accepts: a block is shuffled whole in memory."""

UNSTRATIFIED = "all"
"""Stratum key of a trial with no stratification variables."""

_SPACE = 1 << 256
_ESCAPES = {"%": "%25", "|": "%7C", "=": "%3D"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Arm:
    """One arm of a trial and its integer allocation weight."""

    id: str
    weight: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"arm id must be a non-empty string, got {self.id!r}")
        if not _is_int(self.weight) or self.weight <= 0:
            raise ValueError(
                f"arm {self.id!r}: weight must be a positive integer, got {self.weight!r}"
            )


@dataclass(frozen=True)
class AllocationScheme:
    """How a trial allocates: the method, the arms in declared order, the block sizes.

    Parameters
    ----------
    method
        ``"simple"`` (each unit drawn independently with probability weight/total) or
        ``"permuted_blocks"`` (blocks of a randomly chosen size, each exactly balanced).
    arms
        The arms in their declared order; the order is part of the algorithm.
    block_sizes
        Candidate block sizes in declared order, each a positive multiple of the total
        weight; required for ``permuted_blocks`` and empty for ``simple``.
    """

    method: Method
    arms: tuple[Arm, ...]
    block_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "block_sizes", tuple(self.block_sizes))
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {list(METHODS)}")
        if not self.arms:
            raise ValueError("a trial needs at least one arm")
        ids = [arm.id for arm in self.arms]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"arm ids must be unique; repeated: {duplicates}")
        self._check_block_sizes()

    def _check_block_sizes(self) -> None:
        sizes = self.block_sizes
        if self.method == "simple":
            if sizes:
                raise ValueError("block_sizes apply only to method 'permuted_blocks'")
            return
        if not sizes:
            raise ValueError("method 'permuted_blocks' needs at least one block size")
        total = self.total_weight
        for size in sizes:
            if not _is_int(size) or size <= 0 or size % total:
                raise ValueError(
                    f"block size {size!r} must be a positive multiple of the total weight "
                    f"{total} (the sum of the arm weights)"
                )
            if size > MAX_BLOCK_SIZE:
                raise ValueError(f"block size {size} is larger than {MAX_BLOCK_SIZE}")
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"block sizes must be unique, got {list(sizes)}")

    @classmethod
    def from_weights(
        cls, method: Method, weights: Mapping[str, int], block_sizes: Sequence[int] = ()
    ) -> AllocationScheme:
        """Build a scheme from ``{arm_id: weight}`` in declared (insertion) order."""
        return cls(method, tuple(Arm(i, w) for i, w in weights.items()), tuple(block_sizes))

    @property
    def total_weight(self) -> int:
        """Sum of the arm weights."""
        return sum(arm.weight for arm in self.arms)


@dataclass(frozen=True)
class Slot:
    """The k-th allocation of a stratum's sequence.

    ``index`` is k (0-based, per stratum); ``block`` and ``position`` (both 0-based) locate it
    in its block of ``block_size`` slots. Under ``simple`` the block is the index itself,
    the position is 0 and the block size is 1.
    """

    index: int
    block: int
    position: int
    block_size: int
    arm: str


def stratum_key(values: Mapping[str, str], strata: Sequence[str]) -> str:
    """Canonical stratum key, e.g. ``"court=Bristol|role=victim"``; ``"all"`` if unstratified.

    Pairs ``name=value`` appear in the order of ``strata`` joined by ``|``; in names and
    values ``%``, ``|`` and ``=`` are written ``%25``, ``%7C`` and ``%3D``, so distinct value
    sets never share a key. Values are used exactly as given (case, spaces, Unicode form).

    Raises
    ------
    ValueError
        If a stratum name is empty or repeated, or a value is missing, empty or not a string.
    """
    if not strata:
        return UNSTRATIFIED
    if len(set(strata)) != len(strata):
        raise ValueError(f"stratification variables must be unique, got {list(strata)}")
    pairs = []
    for name in strata:
        if not isinstance(name, str) or not name:
            raise ValueError(f"stratification variable names must be non-empty, got {name!r}")
        if name not in values:
            raise ValueError(f"no value for stratification variable {name!r}")
        value = values[name]
        if not isinstance(value, str) or not value:
            raise ValueError(f"stratification variable {name!r} has no value (got {value!r})")
        pairs.append(f"{_escape(name)}={_escape(value)}")
    return "|".join(pairs)


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def uniform_below(m: int, seed: int, stratum: str, block: int, counter: int) -> tuple[int, int]:
    """Draw an unbiased integer in ``[0, m)`` from the keyed stream, by rejection sampling.

    Hashes ``f"{seed}:{stratum}:{block}:{counter}"`` (UTF-8) with SHA-256, reads the digest
    as a big-endian unsigned integer ``x``, accepts it if ``x < 2**256 - 2**256 % m`` and
    returns ``(x % m, next_counter)``; otherwise tries the next counter.
    """
    if not _is_int(m) or m <= 0:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    return _BlockStream(seed, stratum, block, counter).below(m)


class _BlockStream:
    """The draws of one block: a fixed hash prefix and a counter that only moves forward."""

    __slots__ = ("_prefix", "counter")

    def __init__(self, seed: int, stratum: str, block: int, counter: int = 0) -> None:
        self._prefix = hashlib.sha256(f"{seed}:{stratum}:{block}:".encode())
        self.counter = counter

    def below(self, m: int) -> tuple[int, int]:
        limit = _SPACE - _SPACE % m
        while True:
            digest = self._prefix.copy()
            digest.update(str(self.counter).encode())
            self.counter += 1
            x = int.from_bytes(digest.digest(), "big")
            if x < limit:
                return x % m, self.counter


class StratumSequence:
    """The allocation sequence of one stratum, generated lazily.

    The object caches where each generated block starts (one small list per stratum), so
    looking up slot k costs one hash per earlier block the first time and a bisection after.
    The cache never changes a result: any call order gives the same slots.
    """

    def __init__(self, scheme: AllocationScheme, seed: int, stratum: str) -> None:
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(stratum, str) or not stratum:
            raise ValueError(
                f"stratum must be a non-empty string (see stratum_key), got {stratum!r}"
            )
        self.scheme = scheme
        self.seed = seed
        self.stratum = stratum
        self._starts: list[int] = []
        self._sizes: list[int] = []
        self._counters: list[int] = []
        self._last_block: tuple[int, list[str]] = (-1, [])

    def slot(self, index: int) -> Slot:
        """The slot at 0-based ``index``."""
        _check_index("index", index)
        return next(self.iter_from(index))

    def slots(self, start: int, count: int) -> list[Slot]:
        """Slots ``start`` to ``start + count - 1``."""
        _check_index("count", count)
        iterator = self.iter_from(start)
        return [next(iterator) for _ in range(count)]

    def iter_from(self, start: int = 0) -> Iterator[Slot]:
        """Yield slots ``start``, ``start + 1``, ... without end."""
        _check_index("start", start)
        if self.scheme.method == "simple":
            return self._iter_simple(start)
        return self._iter_blocks(start)

    def _iter_blocks(self, start: int) -> Iterator[Slot]:
        block = self._block_of(start)
        position = start - self._starts[block]
        while True:
            arms = self._block_arms(block)
            size = len(arms)
            for pos in range(position, size):
                yield Slot(self._starts[block] + pos, block, pos, size, arms[pos])
            block += 1
            position = 0

    def __iter__(self) -> Iterator[Slot]:
        return self.iter_from(0)

    def _iter_simple(self, start: int) -> Iterator[Slot]:
        arms = self.scheme.arms
        total = self.scheme.total_weight
        index = start
        while True:
            draw, _ = _BlockStream(self.seed, self.stratum, index).below(total)
            for arm in arms:
                if draw < arm.weight:
                    yield Slot(index, index, 0, 1, arm.id)
                    break
                draw -= arm.weight
            index += 1

    def _block_of(self, index: int) -> int:
        while not self._starts or self._starts[-1] + self._sizes[-1] <= index:
            self._extend()
        return bisect_right(self._starts, index) - 1

    def _extend(self) -> None:
        """Generate the next block's size (its first draws) and remember where it starts."""
        block = len(self._starts)
        start = self._starts[-1] + self._sizes[-1] if block else 0
        sizes = self.scheme.block_sizes
        choice, counter = _BlockStream(self.seed, self.stratum, block).below(len(sizes))
        self._starts.append(start)
        self._sizes.append(sizes[choice])
        self._counters.append(counter)

    def _block_arms(self, block: int) -> list[str]:
        """Fill the block in declared arm order, then shuffle it (Fisher-Yates, from the end)."""
        if self._last_block[0] == block:
            return self._last_block[1]
        while len(self._starts) <= block:
            self._extend()
        size = self._sizes[block]
        per_weight = size // self.scheme.total_weight
        arms = [arm.id for arm in self.scheme.arms for _ in range(arm.weight * per_weight)]
        stream = _BlockStream(self.seed, self.stratum, block, self._counters[block])
        for i in range(size - 1, 0, -1):
            j, _ = stream.below(i + 1)
            arms[i], arms[j] = arms[j], arms[i]
        self._last_block = (block, arms)
        return arms


def _check_index(name: str, value: int) -> None:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def slot_at(scheme: AllocationScheme, seed: int, stratum: str, index: int) -> Slot:
    """The slot at 0-based ``index`` of ``stratum``'s sequence (one-off lookup)."""
    return StratumSequence(scheme, seed, stratum).slot(index)


def slots(scheme: AllocationScheme, seed: int, stratum: str, start: int, count: int) -> list[Slot]:
    """Slots ``start`` to ``start + count - 1`` of ``stratum``'s sequence."""
    return StratumSequence(scheme, seed, stratum).slots(start, count)


def iter_slots(scheme: AllocationScheme, seed: int, stratum: str, start: int = 0) -> Iterator[Slot]:
    """Yield the slots of ``stratum``'s sequence from ``start`` onwards, without end."""
    return StratumSequence(scheme, seed, stratum).iter_from(start)
