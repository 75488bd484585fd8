"""The adapter takes every static2d option under the core's name, type, default and doc: no drift from the registry."""

from __future__ import annotations

import typing

import pytest
import static2d
from langchain_static2d import Static2DEmbeddings
from pydantic import SecretStr
from static2d_testkit import NON_DEFAULT_OPTIONS

ADAPTER_ONLY = {"show_progress_bar"}
# LangChain's own type for a secret: the token is a SecretStr (never shown, dumped or pickled).
ADAPTER_TYPES = {"token": SecretStr | None}


def test_fields_are_the_core_options() -> None:
    fields = Static2DEmbeddings.model_fields
    assert set(fields) - ADAPTER_ONLY == {option.name for option in static2d.OPTIONS}
    hints = typing.get_type_hints(Static2DEmbeddings)
    for option in static2d.OPTIONS:
        field = fields[option.name]
        assert field.default == option.default, option.name
        assert field.description == option.doc, option.name
        assert hints[option.name] == ADAPTER_TYPES.get(option.name, option.annotation), option.name


@pytest.mark.parametrize("option", static2d.OPTIONS, ids=lambda o: o.name)
def test_each_option_reaches_the_core(option: static2d.Option) -> None:
    """A non-default value of each option is what the core's encoder was made with."""
    values = NON_DEFAULT_OPTIONS
    embeddings = Static2DEmbeddings(**{option.name: values[option.name]})  # type: ignore[arg-type]
    seen = embeddings.encoder.options[option.name]
    assert seen == ("***" if option.name == "token" else values[option.name])  # a token is never shown
