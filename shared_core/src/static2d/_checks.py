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


def check_texts(texts: object, method: str = "encode") -> list[str]:
    """Validate the texts given to `method`: a list (or other sequence) of str; returns them as a list.

    The one check of input texts: the encoder and every adapter call it, so a single str, bytes, a generator or a
    non-str item is refused with the same words everywhere.

    Example:
        >>> check_texts(["a", "b"])
        ['a', 'b']
    """
    if isinstance(texts, str):
        msg = (
            f"{method}() takes a list of texts, got a single str (it would be embedded character by character). "
            f"Wrap it in a list: {method}([text])."
        )
        raise TypeError(msg)
    if isinstance(texts, (bytes, bytearray, memoryview)):
        msg = (
            f"{method}() takes a list of str, got {type(texts).__name__} ({bytes(texts[:40])!r}): bytes are not "
            f"text. Decode them first and wrap the text in a list: {method}([data.decode('utf-8')])."
        )
        raise TypeError(msg)
    if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
        msg = f"{method}() takes a list of str, got {type(texts).__name__} ({texts!r:.60})."
        if texts is not None and hasattr(texts, "__iter__"):
            msg += " Pass list(texts)."
        raise TypeError(msg)
    items = texts if type(texts) is list else list(texts)  # a list is read, not copied
    if set(map(type, items)) - {str}:  # one pass without a Python call per text
        for i, t in enumerate(items):
            if isinstance(t, (bytes, bytearray)):
                msg = f"{method}() takes a list of str, but item {i} is {_bytes(t)}."
                raise TypeError(msg)
            if not isinstance(t, str):
                msg = (
                    f"{method}() takes a list of str, but item {i} is a {type(t).__name__} ({t!r:.60}). Pass text only."
                )
                raise TypeError(msg)
    return items


def check_text(text: object, method: str) -> str:
    """Validate the one text given to `method` (a str).

    Example:
        >>> check_text("a", "embed_query")
        'a'
    """
    if isinstance(text, (bytes, bytearray)):
        msg = f"{method}() takes one text (a str), got {_bytes(text)}."
        raise TypeError(msg)
    if not isinstance(text, str):
        msg = f"{method}() takes one text (a str), got {type(text).__name__} ({text!r:.60})."
        if isinstance(text, (list, tuple)):
            msg += " For several texts, pass a list to the method that embeds several."
        raise TypeError(msg)
    return text


def _bytes(value: bytes | bytearray) -> str:
    return f"{type(value).__name__} ({bytes(value[:40])!r}): bytes are not text. Decode it first (.decode('utf-8'))"
