"""The check that opens a store: each record's segment references counted by segment, and each one within its
segment's size. A large part of what opening costs, so it reads the references of a few thousand documents at
once and does its arithmetic in `map`s."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice, repeat
from operator import add, gt
from typing import Any

import orjson

from .cold import REFS
from .segments import SHA_PREFIX

REF = re.compile(
    r"[bjde]([0-9]+):([0-9]+):([0-9]+)"
)  # segment, offset, length of each reference in a `$cold`
_SHA = re.compile(rb":[0-9a-f]{%d}(?= |$)" % SHA_PREFIX)  # a reference's checksum prefix
_TO_COMMAS = bytes.maketrans(b": ", b",,")
_SHAPE = bytes.maketrans(b"bjde0123456789", b"kkkk0000000000")  # (kind letters as k, digits as 0)
CHECK_CHUNK = 4096  # documents whose references are checked at a time


def count_refs(docs: dict[str, Any], counts: Counter[int], sizes: dict[int, int]) -> bool:
    """Add to `counts` the references of `docs` to each segment; True when one refers to a segment not in `sizes`
    or past its end. This is a large part of what opening costs, so a few thousand documents at a time, their
    references read together (`ref_numbers`) and the arithmetic done by `map`s, not by a loop over each; a chunk
    whose references are not all shaped as `Segments` writes them is read reference by reference."""
    bad = False
    values = iter(docs.values())
    while chunk := list(islice(values, CHECK_CHUNK)):
        try:
            found = ref_numbers(" ".join(filter(None, map(dict.get, chunk, repeat(REFS)))))
        except (TypeError, ValueError):  # (a document or a `$cold` of another type: damage)
            found = None
        if found is None:
            refs = REF.findall(" ".join(_refs(chunk)))
            found = [int(r[0]) for r in refs], [int(r[1]) for r in refs], [int(r[2]) for r in refs]
        segs, offsets, lengths = found
        counted = Counter(segs)
        counts.update(counted)
        if not counted.keys() <= sizes.keys():
            bad = True
            continue
        ends = map(add, offsets, lengths)
        if len(counted) == 1:
            bad = bad or max(ends) > sizes[segs[0]]
        else:
            bad = bad or any(map(gt, ends, map(sizes.__getitem__, segs)))
    return bad


def _refs(docs: Iterable[Any]) -> list[str]:
    return [d[REFS] for d in docs if isinstance(d, dict) and isinstance(d.get(REFS), str)]


def ref_numbers(refs: str) -> tuple[list[int], list[int], list[int]] | None:
    """The segments, offsets and lengths of the references of `refs` (space-separated), as `REF` finds them,
    made by a C parser: without their checksum prefixes and kind letters, the references are one JSON array of
    numbers. None unless each reference is a kind letter and three numbers (and a checksum prefix): checked on
    their shape, digits aside, which must be one " k::" a reference."""
    if not refs:
        return [], [], []
    raw = _SHA.sub(b"", b" " + refs.encode())
    n = raw.count(b" ")
    shape = raw.translate(_SHAPE)
    if shape.translate(None, b"0") != b" k::" * n or b" 0" in shape:
        return None
    try:
        nums = orjson.loads(b"[" + raw.translate(_TO_COMMAS, b"bjde")[1:] + b"]")
    except orjson.JSONDecodeError:  # (an empty number, or one with a leading zero)
        return None
    return nums[0::3], nums[1::3], nums[2::3]


def each_ref(docs: Iterable[Any]) -> Iterator[tuple[int, int, int]]:
    """(segment, offset, length) of each reference of `docs`, one at a time (to name the segment at fault)."""
    for seg, off, size in REF.findall(" ".join(_refs(docs))):
        yield int(seg), int(off), int(size)
