"""max_length checked against the model when the encoder is made (the device is `static2d._device`'s).

A max_length beyond the model's position embeddings would otherwise fail deep inside torch or ONNX Runtime, and
only on the first long enough text.
"""

from __future__ import annotations

from static2d._model.describe import ModelDescription, TransformerDescription
from static2d._model.files import read_tokenizer

# Architectures whose position ids start after the padding id (pad_token_id + 1 = 2): two positions are not usable.
_OFFSET_POSITIONS = ("Roberta", "MPNet", "Camembert", "Longformer", "Data2VecText")


def max_positions(description: TransformerDescription) -> int | None:
    """The most tokens the transformer's position embeddings can take (None: the config does not say)."""
    if description.pipeline.positions is None:
        return None
    offset = 2 if any(a in description.architecture for a in _OFFSET_POSITIONS) else 0
    return description.pipeline.positions - offset


def special_tokens(description: TransformerDescription) -> int:
    """How many special tokens the transformer's tokenizer puts around one text (2 when it has no tokenizer.json)."""
    path = description.pipeline.tf_dir / "tokenizer.json"
    if not path.is_file():
        return 2  # a vocabulary file alone: a BERT-style tokenizer, [CLS] text [SEP]
    return int(read_tokenizer(path, description.name).num_special_tokens_to_add(False))


def check_max_length(max_length: int | None, description: ModelDescription) -> None:
    """Refuse a max_length beyond what the transformer's position embeddings allow, or too short for any text.

    A max_length given is checked against the special tokens the tokenizer adds (reading tokenizer.json, a few
    tens of ms); the model's own setting is not.

    Example:
        >>> check_max_length(1000, description)  # doctest: +SKIP
        Traceback (most recent call last):
        ValueError: max_length=1000 is out of range: ...
    """
    if description.kind != "transformer" or max_length is None:
        return  # a static model has no position embeddings and adds no special tokens
    special = special_tokens(description)
    if max_length <= special:
        msg = (
            f"max_length={max_length} leaves no room for text: {description.name!r} puts {special} special tokens "
            f"(such as [CLS] and [SEP]) around every text, and they count in max_length, so the text could not be "
            f"truncated to fit. Use max_length={special + 1} or more (or None for the model's own setting, "
            f"{description.pipeline.max_length})."
        )
        raise ValueError(msg)
    limit = max_positions(description)
    if limit is None or max_length <= limit:
        return
    msg = (
        f"max_length={max_length} is out of range: {description.name!r} ({description.architecture}) has position "
        f"embeddings for {limit} tokens, so it takes max_length from 1 to {limit} (or None for the model's own "
        f"setting, {description.pipeline.max_length})."
    )
    raise ValueError(msg)
