"""The adapter takes every static2d option under the core's name, type, default and doc: no drift from the registry."""

from __future__ import annotations

import typing

import pytest
import static2d
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import SecretStr
from llama_index.embeddings.static2d import Static2DEmbedding
from static2d_testkit import NON_DEFAULT_OPTIONS

# LlamaIndex's own fields beside static2d's options: BaseEmbedding's (they vary by version), the progress bar
ADAPTER_ONLY = {*BaseEmbedding.model_fields, "show_progress_bar"}
# The token is a SecretStr (never shown, dumped or pickled).
ADAPTER_TYPES = {"token": SecretStr | None}


def test_fields_are_the_core_options() -> None:
    fields = Static2DEmbedding.model_fields
    assert {option.name for option in static2d.OPTIONS} <= set(fields)
    assert set(fields) - {option.name for option in static2d.OPTIONS} <= ADAPTER_ONLY
    hints = typing.get_type_hints(Static2DEmbedding)
    for option in static2d.OPTIONS:
        field = fields[option.name]
        assert field.default == option.default, option.name
        assert field.description == option.doc, option.name
        assert hints[option.name] == ADAPTER_TYPES.get(option.name, option.annotation), option.name


@pytest.mark.parametrize("option", static2d.OPTIONS, ids=lambda o: o.name)
def test_each_option_reaches_the_core(option: static2d.Option) -> None:
    """A non-default value of each option is what the core's encoder was made with, and what the field holds."""
    values = NON_DEFAULT_OPTIONS
    embed = Static2DEmbedding(**{option.name: values[option.name]})  # type: ignore[arg-type]
    if option.name == "token":
        assert embed.encoder.options["token"] == "***"  # a token is never shown
        assert isinstance(embed.token, SecretStr)
        assert embed.token.get_secret_value() == values["token"]
    else:
        assert embed.encoder.options[option.name] == values[option.name] == getattr(embed, option.name)


def test_options_are_type_checked_by_the_core() -> None:
    with pytest.raises(TypeError, match=r"dims must be a whole number \(int\) or None, got '3'"):
        Static2DEmbedding(dims="3")  # type: ignore[arg-type]
