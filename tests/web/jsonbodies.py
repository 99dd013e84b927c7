"""Strategies for JSON bodies as clients may write them: keys repeated or not, values of every
kind, spaces anywhere. An object is drawn as a tuple of its (key, value) pairs, so that a key can
appear twice, and :func:`render` writes it as JSON text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

Object = tuple[tuple[str, Any], ...]  # an object as its (key, value) pairs

# values a field that takes an id may meet
ID_LIKE = st.one_of(
    st.integers(-1, 2**64),
    st.from_regex(r"\A[0-9]{1,21}\Z"),
    st.sampled_from(["", " 1", "1:2", "\u0661", "\\u0031", True, None, 1.5]),
)


def pairs(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Object]:
    """An object with some of ``keys``, a key now and then repeated."""
    return st.lists(st.sampled_from(sorted(keys)), max_size=len(keys) + 1).flatmap(
        lambda names: st.tuples(*(st.tuples(st.just(name), keys[name]) for name in names))
    )


def render(value: Any, space: str) -> str:
    """``value`` as JSON text in UTF-8 as clients write it, ``space`` after every comma and colon;
    tuples of pairs are objects."""
    if isinstance(value, tuple):
        return "{" + f",{space}".join(f"{json.dumps(k)}:{space}{render(v, space)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(render(v, space) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def each_once(
    names: tuple[str, ...], *values: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    """An object with each of ``names`` once, in order, its value drawn from the matching strategy."""
    return st.tuples(*values).map(lambda drawn: tuple(zip(names, drawn, strict=True)))
