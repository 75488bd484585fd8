"""Both components take every static2d option under the core's name, type, default and doc: no drift."""

from __future__ import annotations

import inspect
import typing

import pytest
import static2d
from haystack.utils import ComponentDevice, Secret
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder
from haystack_integrations.components.embedders.static2d._shared import DEFAULT_TOKEN
from static2d_testkit import NON_DEFAULT_OPTIONS

ADAPTER_ONLY = {"self", "prefix", "suffix", "show_progress_bar", "meta_fields_to_embed", "embedding_separator"}
# Haystack's own types: a ComponentDevice and a Secret (read from HF_API_TOKEN / HF_TOKEN by default)
HAYSTACK_TYPES = {"device": ComponentDevice | None, "token": Secret | None}
HAYSTACK_DEFAULTS = {"token": DEFAULT_TOKEN}
COMPONENTS = [Static2DTextEmbedder, Static2DDocumentEmbedder]


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("component", COMPONENTS)
def test_parameters_are_the_core_options(component: type) -> None:
    parameters = inspect.signature(component.__init__).parameters
    assert set(parameters) - ADAPTER_ONLY == {option.name for option in static2d.OPTIONS}
    hints = typing.get_type_hints(component.__init__)
    doc = _words(component.__init__.__doc__ or "")
    for option in static2d.OPTIONS:
        assert parameters[option.name].default == HAYSTACK_DEFAULTS.get(option.name, option.default), option.name
        assert hints[option.name] == HAYSTACK_TYPES.get(option.name, option.annotation), option.name
        if option.name not in HAYSTACK_TYPES:
            assert f"{option.name}: {_words(option.doc)}" in doc, option.name


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("option", static2d.OPTIONS, ids=lambda o: o.name)
def test_each_option_reaches_the_core(component: type, option: static2d.Option) -> None:
    # Haystack's own types for the device and the token
    values = {
        **NON_DEFAULT_OPTIONS,
        "device": ComponentDevice.from_str("cpu"),
        "token": Secret.from_token("hf_secret"),
    }
    core = {"device": "cpu", "token": "***"}
    embedder = component(**{option.name: values[option.name]})
    assert embedder.encoder.options[option.name] == core.get(option.name, values[option.name])
