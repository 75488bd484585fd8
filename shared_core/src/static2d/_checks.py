"""The checks of what a caller hands static2d: sizes (one, or a list of them) and input texts.

Used by `load`, the encoder, the grid, the trade-off tool, the batch helper and every adapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_size(value: object, name: str, maximum: int | None, *, what: str = "size") -> int | None:
    """Validate a size: None (the model's own) or a whole number from 1 to `maximum` (bools and floats refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"{name} must be a whole number (int) or None, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)
    value = int(value)
    if value < 1 or (maximum is not None and value > maximum):
        if maximum is None:
            msg = f"{name}={value} is out of range: {name} is a {what}, at least 1 (or None)."
        else:
            msg = (
                f"{name}={value} is out of range: this model takes {name} from 1 to {maximum} (or None for {maximum})."
            )
        raise ValueError(msg)
    return value


def check_sizes(values: object, name: str, maximum: int, *, hint: str = "") -> list[int]:
    """Validate a list of sizes (a grid's `layers` or `dims`): a non-empty sequence, each value as `check_size`.

    Args:
        values: What was given.
        name: "layers" or "dims".
        maximum: The largest allowed value.
        hint: What to do when a value is above `maximum` (added to the message).

    Returns:
        The values, sorted and without repeats.

    Raises:
        TypeError: Not a sequence of whole numbers.
        ValueError: Empty, or a value out of range.

    Example:
        >>> check_sizes([6, 3, 3], "layers", 6)
        [3, 6]
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        msg = f"{name} must be a list of whole numbers (e.g. {name}=[1, {maximum}]), got {values!r}."
        raise TypeError(msg)
    items = list(values)
    if not items:
        msg = f"{name} is empty: give at least one value from 1 to {maximum} (e.g. {name}=[{maximum}])."
        raise ValueError(msg)
    out = set()
    for v in items:
        try:
            checked = check_size(v, name, maximum)
        except ValueError as e:
            if hint and isinstance(v, (int, np.integer)) and int(v) > maximum:
                msg = f"{e} {hint}"
                raise ValueError(msg) from None
            raise
        if checked is None:
            msg = f"{name} must be a list of whole numbers, but it holds None: {items!r}."
            raise TypeError(msg)
        out.add(checked)
    return sorted(out)


def check_texts(texts: object, caller: str = "encode") -> list[str]:
    """Validate the input of `encode` (or an adapter's `caller`): a list (or other sequence) of str.

    Example:
        >>> check_texts(["a panda", "bamboo"])
        ['a panda', 'bamboo']
    """
    if isinstance(texts, str):
        msg = f"{caller}() takes a list of texts, got a single str. Wrap it in a list: {caller}([text])."
        raise TypeError(msg)
    if isinstance(texts, (bytes, bytearray, memoryview)):
        msg = (
            f"{caller}() takes a list of str, got {type(texts).__name__} ({bytes(texts[:40])!r}): bytes are not "
            f"text. Decode them first and wrap the text in a list: {caller}([data.decode('utf-8')])."
        )
        raise TypeError(msg)
    if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
        msg = f"{caller}() takes a list of str, got {type(texts).__name__}. Pass list(texts)."
        raise TypeError(msg)
    items = texts if type(texts) is list else list(texts)  # a list is read, not copied
    if not all(type(t) is str for t in items):
        for i, t in enumerate(items):
            if not isinstance(t, str):
                msg = f"{caller}() takes a list of str, but item {i} is {_what(t)}."
                raise TypeError(msg)
    return items


def check_text(text: object, caller: str) -> str:
    """Validate one text (an adapter's single-text call): a str.

    Example:
        >>> check_text("a panda", "embed_query")
        'a panda'
    """
    if not isinstance(text, str):
        msg = f"{caller}() takes one text (a str), got {_what(text)}."
        raise TypeError(msg)
    return text


def _what(value: object) -> str:
    """A value that is not text, named for a message, with what to do."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{type(value).__name__} ({bytes(value[:40])!r}): bytes are not text. Decode it first (.decode('utf-8'))"
    return f"a {type(value).__name__} ({value!r:.60}). Pass text only"
