"""Tests for the pure randomisation core: reproducibility, balance, the documented algorithm."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.randomise import (
    UNSTRATIFIED,
    AllocationScheme,
    Arm,
    Slot,
    StratumSequence,
    iter_slots,
    slot_at,
    slots,
    stratum_key,
    uniform_below,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "randomisation.md"
SEED = 20270101


def make_scheme(**overrides: object) -> AllocationScheme:
    """A permuted-blocks scheme, control 2 : treatment 1, block sizes 3 or 6."""
    fields: dict[str, object] = {
        "method": "permuted_blocks",
        "weights": {"control": 2, "treatment": 1},
        "block_sizes": (3, 6),
    }
    fields.update(overrides)
    return AllocationScheme.from_weights(
        fields["method"],  # type: ignore[arg-type]
        fields["weights"],  # type: ignore[arg-type]
        fields["block_sizes"],  # type: ignore[arg-type]
    )


# An independent re-implementation written from docs/randomisation.md, not from the module.


def reference_draw(seed: int, stratum: str, block: int, counter: int, m: int) -> tuple[int, int]:
    while True:
        text = f"{seed}:{stratum}:{block}:{counter}".encode()
        x = int.from_bytes(hashlib.sha256(text).digest(), "big")
        counter += 1
        if x < 2**256 - 2**256 % m:
            return x % m, counter


def reference_blocks(
    seed: int, stratum: str, weights: Sequence[tuple[str, int]], sizes: Sequence[int], n: int
) -> list[tuple[int, int, str]]:
    """(block, block size, arm) for the first n slots under permuted blocks."""
    total = sum(w for _, w in weights)
    out: list[tuple[int, int, str]] = []
    block = 0
    while len(out) < n:
        choice, counter = reference_draw(seed, stratum, block, 0, len(sizes))
        size = sizes[choice]
        arms = [a for a, w in weights for _ in range(w * size // total)]
        for i in range(size - 1, 0, -1):
            j, counter = reference_draw(seed, stratum, block, counter, i + 1)
            arms[i], arms[j] = arms[j], arms[i]
        out += [(block, size, arm) for arm in arms]
        block += 1
    return out[:n]


def reference_simple(
    seed: int, stratum: str, weights: Sequence[tuple[str, int]], n: int
) -> list[str]:
    out = []
    for k in range(n):
        u, _ = reference_draw(seed, stratum, k, 0, sum(w for _, w in weights))
        for arm, weight in weights:
            if u < weight:
                out.append(arm)
                break
            u -= weight
    return out


def max_drift(scheme: AllocationScheme, sequence: Sequence[Slot]) -> Fraction:
    """Largest |count - k * weight / W| over all arms and all prefixes of the sequence."""
    counts: Counter[str] = Counter()
    worst = Fraction(0)
    total = scheme.total_weight
    for k, slot in enumerate(sequence, start=1):
        counts[slot.arm] += 1
        for arm in scheme.arms:
            worst = max(worst, abs(counts[arm.id] - Fraction(k * arm.weight, total)))
    return worst


def assert_blocks_exactly_balanced(scheme: AllocationScheme, sequence: Sequence[Slot]) -> None:
    counts: Counter[str] = Counter()
    for k, slot in enumerate(sequence, start=1):
        assert slot.index == k - 1
        counts[slot.arm] += 1
        if slot.position == slot.block_size - 1:
            for arm in scheme.arms:
                assert counts[arm.id] * scheme.total_weight == k * arm.weight


# Reproducibility


def test_same_seed_stratum_and_index_give_identical_slots() -> None:
    scheme = make_scheme()
    first = slots(scheme, SEED, "court=Bristol", 0, 500)
    again = slots(make_scheme(), SEED, "court=Bristol", 0, 500)
    assert first == again
    assert [slot_at(scheme, SEED, "court=Bristol", k) for k in (0, 7, 123, 499)] == [
        first[k] for k in (0, 7, 123, 499)
    ]


@pytest.mark.parametrize("other_seed", [SEED + 1, 0, 2**128 + 5])
def test_a_different_seed_gives_a_different_sequence(other_seed: int) -> None:
    scheme = make_scheme()
    ours = [s.arm for s in slots(scheme, SEED, "court=Bristol", 0, 60)]
    theirs = [s.arm for s in slots(scheme, other_seed, "court=Bristol", 0, 60)]
    assert ours != theirs


def test_different_strata_draw_from_independent_streams() -> None:
    scheme = make_scheme(weights={"a": 1, "b": 1, "c": 1}, block_sizes=(3, 6))
    sequences = [
        [s.arm for s in slots(scheme, SEED, stratum_key({"court": f"C{i}"}, ["court"]), 0, 300)]
        for i in range(12)
    ]
    agreements = []
    for i, first in enumerate(sequences):
        for second in sequences[i + 1 :]:
            assert first != second
            agreements.append(sum(x == y for x, y in zip(first, second, strict=True)) / 300)
    # Independent balanced sequences over three equal arms agree about a third of the time.
    assert 0.28 < sum(agreements) / len(agreements) < 0.39


def test_slot_lookups_do_not_depend_on_call_order() -> None:
    scheme = make_scheme()
    forwards = slots(scheme, SEED, "all", 0, 200)
    sequence = StratumSequence(scheme, SEED, "all")
    backwards = [sequence.slot(k) for k in reversed(range(200))]
    assert backwards[::-1] == forwards


# The documentation and a pinned configuration


def _worked_example() -> tuple[list[str], list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- worked-example:start -->")[1].split("<!-- worked-example:end -->")[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    results = [line for line in section.splitlines() if line.startswith("- Block ")]
    return rows, results


def test_worked_example_in_the_docs_matches_the_code() -> None:
    letters = {"C": "control", "P": "practical", "S": "social_norm"}
    scheme = AllocationScheme.from_weights(
        "permuted_blocks", {"control": 1, "practical": 1, "social_norm": 1}, [3, 6]
    )
    stratum = stratum_key({"court": "Bristol"}, ["court"])
    assert stratum == "court=Bristol"
    rows, results = _worked_example()
    assert len(rows) == 12 and len(results) == 3

    counter_of: Counter[int] = Counter()
    state: list[str] = []
    for row in rows:
        block_text, hash_input, digest, m_text, value_text, use = (
            cell.strip().strip("`") for cell in row.strip("|").split("|")
        )
        block, m, value = int(block_text), int(m_text), int(value_text)
        assert hash_input == f"{SEED}:{stratum}:{block}:{counter_of[block]}"
        counter_of[block] += 1
        assert hashlib.sha256(hash_input.encode()).hexdigest() == digest
        x = int(digest, 16)
        assert x < 2**256 - 2**256 % m and x % m == value
        if use.startswith("size"):
            size = scheme.block_sizes[value]
            assert use.startswith(f"size = block_sizes[{value}] = {size}; fill: ")
            state = [a.id for a in scheme.arms for _ in range(size // scheme.total_weight)]
        else:
            assert use.startswith(f"i = {m - 1}, j = {value}: ")
            state[m - 1], state[value] = state[value], state[m - 1]
        assert [letters[c] for c in use.rsplit(": ", 1)[1].split()] == state

    generated = StratumSequence(scheme, SEED, stratum)
    for line in results:
        match = re.fullmatch(r"- Block (\d+) \(slots (\d+)–(\d+)\): (.+)", line)
        assert match is not None, line
        block, first, last = (int(g) for g in match.groups()[:3])
        expected = match.group(4).split(", ")
        got = generated.slots(first, last - first + 1)
        assert [s.arm for s in got] == expected
        assert {s.block for s in got} == {block}
        assert [s.position for s in got] == list(range(len(expected)))


def test_golden_allocations_are_pinned() -> None:
    # Computed with reference_blocks / reference_simple above, never with the module.
    stratum = "court=Bristol|role=victim"
    blocks = slots(make_scheme(), SEED, stratum, 0, 12)
    assert [(s.block, s.block_size, s.arm) for s in blocks] == [
        (0, 3, "control"),
        (0, 3, "control"),
        (0, 3, "treatment"),
        (1, 6, "treatment"),
        (1, 6, "control"),
        (1, 6, "control"),
        (1, 6, "control"),
        (1, 6, "treatment"),
        (1, 6, "control"),
        (2, 3, "treatment"),
        (2, 3, "control"),
        (2, 3, "control"),
    ]
    simple = slots(make_scheme(method="simple", block_sizes=()), SEED, stratum, 0, 12)
    assert [s.arm for s in simple] == [
        "control",
        "treatment",
        "control",
        "control",
        "treatment",
        "treatment",
        "control",
        "control",
        "treatment",
        "control",
        "control",
        "control",
    ]


def test_the_reference_reimplementation_agrees_over_a_long_stretch() -> None:
    weights = [("control", 2), ("practical", 1), ("social_norm", 1)]
    blocks = make_scheme(weights=dict(weights), block_sizes=(8, 4, 12))
    got = [(s.block, s.block_size, s.arm) for s in slots(blocks, 7, "court=Leeds", 0, 400)]
    assert got == reference_blocks(7, "court=Leeds", weights, (8, 4, 12), 400)
    simple = make_scheme(method="simple", weights=dict(weights), block_sizes=())
    got_simple = [s.arm for s in slots(simple, 7, "court=Leeds", 0, 400)]
    assert got_simple == reference_simple(7, "court=Leeds", weights, 400)


def test_uniform_below_follows_the_documented_stream() -> None:
    value, counter = uniform_below(6, SEED, "court=Bristol", 2, 1)
    assert (value, counter) == reference_draw(SEED, "court=Bristol", 2, 1, 6) == (4, 2)


# Balance


@pytest.mark.parametrize(
    ("weights", "block_sizes"),
    [
        ({"control": 1, "treatment": 1}, (2, 4, 6)),
        ({"control": 2, "treatment": 1}, (3, 6)),
        ({"control": 1, "practical": 1, "social_norm": 1}, (3, 6)),
        ({"a": 3, "b": 1, "c": 2, "d": 1}, (7, 14, 21)),
    ],
)
def test_counts_never_drift_more_than_half_the_largest_block(
    weights: dict[str, int], block_sizes: tuple[int, ...]
) -> None:
    scheme = make_scheme(weights=weights, block_sizes=block_sizes)
    for court in ("Bristol", "Leeds", "Cardiff", "York"):
        sequence = slots(scheme, SEED, stratum_key({"court": court}, ["court"]), 0, 600)
        assert max_drift(scheme, sequence) <= Fraction(max(block_sizes), 2)
        assert_blocks_exactly_balanced(scheme, sequence)


def test_unequal_weights_are_honoured_in_every_block() -> None:
    scheme = make_scheme(weights={"control": 2, "treatment": 1}, block_sizes=(3, 6))
    sequence = slots(scheme, SEED, "all", 0, 900)
    by_block: dict[int, Counter[str]] = {}
    for slot in sequence:
        by_block.setdefault(slot.block, Counter())[slot.arm] += 1
    sizes = {slot.block: slot.block_size for slot in sequence}
    complete = [b for b, counts in by_block.items() if counts.total() == sizes[b]]
    assert len(complete) >= len(by_block) - 1
    for block in complete:
        assert by_block[block]["control"] == 2 * by_block[block]["treatment"]
    assert set(sizes.values()) == {3, 6}


def test_simple_proportions_are_close_to_the_weights() -> None:
    scheme = make_scheme(
        method="simple", weights={"control": 3, "practical": 1, "social_norm": 1}, block_sizes=()
    )
    counts = Counter(s.arm for s in slots(scheme, SEED, "all", 0, 20_000))
    assert abs(counts["control"] / 20_000 - 0.6) < 0.015
    assert abs(counts["practical"] / 20_000 - 0.2) < 0.015
    assert abs(counts["social_norm"] / 20_000 - 0.2) < 0.015


def test_simple_slots_are_their_own_blocks() -> None:
    scheme = make_scheme(method="simple", block_sizes=())
    for slot in slots(scheme, SEED, "all", 5, 20):
        assert (slot.block, slot.position, slot.block_size) == (slot.index, 0, 1)


# Lookup forms agree


@pytest.mark.parametrize("method", ["simple", "permuted_blocks"])
def test_kth_slot_equals_the_kth_element_of_the_iterator(method: str) -> None:
    scheme = make_scheme(method=method, block_sizes=(3, 6) if method != "simple" else ())
    stream = list(islice(iter_slots(scheme, SEED, "court=Bristol"), 150))
    assert [slot_at(scheme, SEED, "court=Bristol", k) for k in range(150)] == stream
    assert list(islice(iter_slots(scheme, SEED, "court=Bristol", 41), 50)) == stream[41:91]
    assert slots(scheme, SEED, "court=Bristol", 97, 53) == stream[97:150]
    assert slots(scheme, SEED, "court=Bristol", 10, 0) == []


def test_blocks_are_consecutive_and_positions_contiguous() -> None:
    sequence = slots(make_scheme(), SEED, "all", 0, 300)
    for before, after in zip(sequence, sequence[1:], strict=False):
        if before.position == before.block_size - 1:
            assert (after.block, after.position) == (before.block + 1, 0)
        else:
            assert (after.block, after.position) == (before.block, before.position + 1)
            assert after.block_size == before.block_size


arms_and_weights = st.lists(st.integers(1, 4), min_size=1, max_size=5)
multipliers = st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True)


@settings(max_examples=150, deadline=None)
@given(
    weights=arms_and_weights,
    multiples=multipliers,
    seed=st.integers(0, 2**128),
    stratum=st.text(min_size=1, max_size=30),
    start=st.integers(0, 40),
    count=st.integers(0, 80),
)
def test_permuted_blocks_are_balanced_and_consistent_for_any_configuration(
    weights: list[int], multiples: list[int], seed: int, stratum: str, start: int, count: int
) -> None:
    named = [(f"arm{i}", w) for i, w in enumerate(weights)]
    total = sum(weights)
    block_sizes = tuple(total * m for m in multiples)
    scheme = make_scheme(weights=dict(named), block_sizes=block_sizes)
    sequence = slots(scheme, seed, stratum, 0, start + count)

    assert [(s.block, s.block_size, s.arm) for s in sequence] == reference_blocks(
        seed, stratum, named, block_sizes, start + count
    )
    assert max_drift(scheme, sequence) <= Fraction(max(block_sizes), 2)
    assert_blocks_exactly_balanced(scheme, sequence)
    assert slots(scheme, seed, stratum, start, count) == sequence[start:]
    if count:
        assert slot_at(scheme, seed, stratum, start + count - 1) == sequence[-1]


@settings(max_examples=50, deadline=None)
@given(weights=arms_and_weights, seed=st.integers(0, 2**64), stratum=st.text(min_size=1))
def test_simple_method_follows_the_reference_for_any_configuration(
    weights: list[int], seed: int, stratum: str
) -> None:
    named = [(f"arm{i}", w) for i, w in enumerate(weights)]
    scheme = make_scheme(method="simple", weights=dict(named), block_sizes=())
    assert [s.arm for s in slots(scheme, seed, stratum, 0, 30)] == reference_simple(
        seed, stratum, named, 30
    )


# Stratum keys


def test_stratum_key_joins_pairs_in_declared_order() -> None:
    values = {"role": "victim", "court": "Bristol", "unused": "x"}
    assert stratum_key(values, ["court", "role"]) == "court=Bristol|role=victim"
    assert stratum_key(values, ["role", "court"]) == "role=victim|court=Bristol"


def test_an_unstratified_trial_uses_all() -> None:
    assert stratum_key({"court": "Bristol"}, []) == UNSTRATIFIED == "all"


def test_separators_in_values_are_escaped() -> None:
    assert stratum_key({"court": "A|b=c", "role": "50%"}, ["court", "role"]) == (
        "court=A%7Cb%3Dc|role=50%25"
    )
    assert stratum_key({"a": "x|b=y"}, ["a"]) != stratum_key({"a": "x", "b": "y"}, ["a", "b"])


separator_heavy = st.text(alphabet="ab|=%:7C", min_size=1, max_size=6)


@given(
    first=st.dictionaries(separator_heavy, separator_heavy, min_size=1, max_size=3),
    second=st.dictionaries(separator_heavy, separator_heavy, min_size=1, max_size=3),
)
def test_different_value_sets_never_share_a_key(
    first: dict[str, str], second: dict[str, str]
) -> None:
    key_first = stratum_key(first, list(first))
    key_second = stratum_key(second, list(second))
    assert (key_first == key_second) == (list(first.items()) == list(second.items()))


@pytest.mark.parametrize(
    ("values", "strata", "message"),
    [
        ({"court": "Bristol"}, ["court", "role"], "no value for stratification variable 'role'"),
        ({"court": ""}, ["court"], "'court' has no value"),
        ({"court": "Bristol"}, ["court", "court"], "must be unique"),
        ({"": "x"}, [""], "must be non-empty"),
    ],
)
def test_stratum_key_rejects_incomplete_values(
    values: dict[str, str], strata: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        stratum_key(values, strata)


# Validation


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Arm("control", 0), "weight must be a positive integer"),
        (lambda: Arm("control", 1.5), "weight must be a positive integer"),  # type: ignore[arg-type]
        (lambda: Arm("control", True), "weight must be a positive integer"),
        (lambda: Arm("", 1), "arm id must be a non-empty string"),
        (lambda: AllocationScheme("simple", ()), "at least one arm"),
        (
            lambda: AllocationScheme("simple", (Arm("a"), Arm("b"), Arm("a"))),
            "arm ids must be unique; repeated: ['a']",
        ),
        (lambda: make_scheme(method="stratified"), "unknown method 'stratified'"),
        (lambda: make_scheme(block_sizes=()), "needs at least one block size"),
        (lambda: make_scheme(block_sizes=(3, 4)), "block size 4 must be a positive multiple"),
        (lambda: make_scheme(block_sizes=(0,)), "block size 0 must be a positive multiple"),
        (lambda: make_scheme(block_sizes=(-3,)), "block size -3 must be a positive multiple"),
        (lambda: make_scheme(block_sizes=(3, 3)), "block sizes must be unique"),
        (lambda: make_scheme(method="simple"), "block_sizes apply only to method"),
    ],
)
def test_invalid_schemes_are_rejected_with_a_clear_message(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


@pytest.mark.parametrize(
    ("seed", "stratum", "start", "message"),
    [
        (-1, "all", 0, "seed must be a non-negative integer"),
        ("20270101", "all", 0, "seed must be a non-negative integer"),
        (SEED, "", 0, "stratum must be a non-empty string"),
        (SEED, "all", -1, "start must be a non-negative integer"),
    ],
)
def test_invalid_lookups_are_rejected_before_any_slot_is_drawn(
    seed: int, stratum: str, start: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        iter_slots(make_scheme(), seed, stratum, start)


def test_negative_index_and_count_are_rejected() -> None:
    with pytest.raises(ValueError, match="index must be a non-negative integer"):
        slot_at(make_scheme(), SEED, "all", -3)
    with pytest.raises(ValueError, match="count must be a non-negative integer"):
        slots(make_scheme(), SEED, "all", 0, -1)
    with pytest.raises(ValueError, match="m must be a positive integer"):
        uniform_below(0, SEED, "all", 0, 0)
