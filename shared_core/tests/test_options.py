"""The option registry is the one place an option is stated: `load` and `Options` follow it exactly."""

from __future__ import annotations

import dataclasses
import inspect
import os
import typing
from pathlib import Path

import pytest
import static2d
from static2d._options import Options, check_options
from static2d_testkit import NON_DEFAULT_OPTIONS, make_static_model

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


# An option that does not apply to a static model, set to a value other than its default (and other than a value
# meaning the default's behaviour, such as device="cpu").
_NOT_FOR_STATIC = {"device": "cuda", **{k: v for k, v in NON_DEFAULT_OPTIONS.items() if k != "device"}}


@pytest.mark.parametrize("option", [o for o in static2d.OPTIONS if "static" not in o.applies_to], ids=lambda o: o.name)
def test_an_option_that_does_not_apply_to_a_static_model_is_refused(option: static2d.Option, tmp_path: Path) -> None:
    """Every option the registry marks transformer-only is refused on a static model, by one policy."""
    model = make_static_model(tmp_path / "static")
    value = _NOT_FOR_STATIC[option.name]
    with pytest.raises(ValueError, match=rf"{option.name}={value!r} was given, but .* is a static embedding model: "):
        static2d.load(model, **{option.name: value}, lazy=True)
    static2d.load(model, **{option.name: option.default}, lazy=True)  # its default is fine


def test_device_cpu_is_fine_on_a_static_model(tmp_path: Path) -> None:
    encoder = static2d.load(make_static_model(tmp_path / "static"), device="cpu")
    assert encoder.backend == "numpy"
    assert encoder.device == "cpu"


def test_the_registry_says_which_options_are_transformer_only() -> None:
    only = {o.name for o in static2d.OPTIONS if o.applies_to == ("transformer",)}
    assert only == {"layers", "device", "trust_remote_code", "backend", "quantize", "dtype"}
    for option in static2d.OPTIONS:
        assert option.doc.startswith("Transformer") == (option.name in only), option.name
