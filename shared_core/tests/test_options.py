"""The option registry is the one place an option is stated: `load` and `Options` follow it exactly."""

from __future__ import annotations

import dataclasses
import inspect
import os
import typing

import pytest
import static2d
from static2d._options import Options, check_options

PATHS = {"model", "cache_folder"}  # load also takes an os.PathLike for these (kept as str)


def test_load_takes_every_option_with_its_type_and_default() -> None:
    parameters = inspect.signature(static2d.load).parameters
    assert list(parameters) == [*(option.name for option in static2d.OPTIONS), "lazy"]
    hints = typing.get_type_hints(static2d.load)
    for option in static2d.OPTIONS:
        if option.name != "model":  # the one positional, required argument
            assert parameters[option.name].default == option.default, option.name
        expected = option.annotation | os.PathLike[str] if option.name in PATHS else option.annotation
        assert hints[option.name] == expected, option.name


def test_load_documents_every_option_from_the_registry() -> None:
    doc = " ".join((static2d.load.__doc__ or "").split())
    for option in static2d.OPTIONS:
        assert f"{option.name}: {' '.join(option.doc.split())}" in doc, option.name


def test_the_registry_is_the_options_dataclass() -> None:
    fields = dataclasses.fields(Options)
    assert [f.name for f in fields] == [option.name for option in static2d.OPTIONS]
    assert [f.default for f in fields] == [option.default for option in static2d.OPTIONS]
    assert all(option.doc.endswith(".") and option.check for option in static2d.OPTIONS)


def test_the_option_types_are_exported() -> None:
    by_name = {option.name: option.annotation for option in static2d.OPTIONS}
    assert by_name["backend"] == static2d.Backend == typing.Literal["auto", "torch", "onnx"]
    assert by_name["quantize"] == static2d.Quantize
    assert by_name["precision"] == static2d.Precision
    assert typing.get_args(static2d.Precision) == ("float32", "int8", "uint8", "binary", "ubinary")
    assert static2d.OPTIONS[-1].type == "Literal['float32', 'int8', 'uint8', 'binary', 'ubinary']"


@pytest.mark.parametrize("option", static2d.OPTIONS, ids=lambda o: o.name)
def test_every_option_checks_its_type(option: static2d.Option) -> None:
    with pytest.raises((TypeError, ValueError), match=option.name):
        check_options(**{option.name: object()})
