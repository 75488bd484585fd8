"""What both embedders share: turning Haystack's `ComponentDevice` and `Secret` into the core's options."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from haystack import default_from_dict
from haystack.utils import ComponentDevice, Secret, deserialize_secrets_inplace
from haystack.utils.auth import SecretType

import static2d
from static2d.adapters import EncoderMixin, unknown_option_message

DEFAULT_MODEL = static2d.DEFAULT_MODEL
DEFAULT_TOKEN = Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)


def _check_haystack_types(device: object, token: object) -> None:
    """Refuse a `device` that is not one `ComponentDevice` (a device map) and a `token` that is not a `Secret`.

    A wrong type from user code or YAML is caught here, before the core sees it.
    """
    if device is not None and not isinstance(device, ComponentDevice):
        msg = (
            f"device must be a haystack ComponentDevice (e.g. ComponentDevice.from_str('cuda:0')) or None, "
            f"got {device!r} ({type(device).__name__})."
        )
        raise TypeError(msg)
    if device is not None and device.has_multiple_devices:
        shown = device.to_dict().get("device_map")
        msg = (
            f"device=ComponentDevice.from_multiple(...) maps the model over several devices ({shown}), but static2d "
            "runs a model on one device. Use ComponentDevice.from_str('cuda:0') (one device, as static2d's device "
            "option takes it), or None for the best device found."
        )
        raise ValueError(msg)
    if token is not None and not isinstance(token, Secret):
        msg = (
            "token must be a haystack Secret (e.g. Secret.from_env_var('HF_TOKEN')) or None, "
            f"got a {type(token).__name__}. A plain string would be written into serialised pipelines."
        )
        raise TypeError(msg)


def deserialize_init_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` with its serialised `token` and `device` turned back into `Secret` and `ComponentDevice`."""
    init_parameters = dict(data.get("init_parameters", {}))
    deserialize_secrets_inplace(init_parameters, keys=["token"])
    if isinstance(init_parameters.get("device"), dict):
        init_parameters["device"] = ComponentDevice.from_dict(init_parameters["device"])
    return {**data, "init_parameters": init_parameters}


_C = TypeVar("_C", bound="Static2DComponent")

# The options both embedders take: the core's options (Haystack types `device` and `token` its own way).
COMMON_OPTIONS = tuple(option.name for option in static2d.OPTIONS)


# Haystack's own types for two options: a ComponentDevice, and a Secret (read from HF_API_TOKEN / HF_TOKEN).
HAYSTACK_TYPED = ("device", "token")
# ... and how a message writes them
HAYSTACK_SPELLING: dict[str, Callable[[object], str]] = {
    "device": lambda value: f"ComponentDevice.from_str({value!r})",
    "token": lambda _: 'Secret.from_env_var("HF_TOKEN")',
}


def document_options(init: Callable[..., None]) -> None:
    """Write each static2d option's doc, from the core's registry, at the top of `init`'s Args section.

    The options are declared once per component (its typed signature); their docs are never written twice.
    """
    docs = "\n".join(o.args_entry(" " * 12) for o in static2d.OPTIONS if o.name not in HAYSTACK_TYPED)
    init.__doc__ = (init.__doc__ or "").replace("        Args:\n", f"        Args:\n{docs}\n", 1)


class Static2DComponent(EncoderMixin):
    """What the text and document embedders share: the core's options, the lazy encoder, and serialisation.

    `EncoderMixin` (the core's) gives `encoder`, `embedding_dim`, `warm_up()`, `fingerprint`, `describe()`,
    `check_fingerprint()` and pickling without a token's value.
    """

    # The static2d options are set from the subclasses' parameters (their names: `COMMON_OPTIONS`); Haystack types
    # two of them its own way.
    device: ComponentDevice | None
    token: Secret | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - any arguments, as `__init__` takes them
        # Before `__init__`, which would only say "unexpected keyword argument": another embedder's option name
        # (`model_kwargs`, `progress_bar`, ...) is refused with the static2d option to use instead, any other
        # unknown name with the closest option ("did you mean dims=256?"). The typed signatures stay the options,
        # declared once.
        del args
        takes = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
        for name, value in kwargs.items():
            if name not in takes:
                msg = unknown_option_message(cls.__name__, name, takes, value, spell=HAYSTACK_SPELLING)
                raise TypeError(msg)
        return super().__new__(cls)

    def __init__(self, **options: Any) -> None:  # noqa: ANN401 - the core's options, each of its own type
        """Keep the core's options (every name of `COMMON_OPTIONS`) and make the lazy core encoder.

        The subclasses pass their own parameters of those names. The model loads on `warm_up()` or first use;
        the core checks every option now.
        """
        missing = [name for name in COMMON_OPTIONS if name not in options]
        if missing:
            msg = f"{type(self).__name__} must take every static2d option; missing {missing}."
            raise TypeError(msg)
        for name in COMMON_OPTIONS:
            setattr(self, name, options[name])
        _check_haystack_types(self.device, self.token)
        # Paths are kept as str (as the other adapters do), so that `to_dict` and `Pipeline.dumps()` can write them.
        for name in ("model", "cache_folder"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, os.fspath(value))
        options = {name: getattr(self, name) for name in COMMON_OPTIONS}
        options["device"] = self.device.to_torch_str() if self.device is not None else None
        options["token"] = self.token.resolve_value() if self.token is not None else None
        self._encoder = static2d.load(**options, lazy=True)

    def _token_to_pickle(self) -> Secret | None:
        # Never a token's value in a pickle, as the core's Encoder: a Secret.from_token is left out (the other side
        # reads HF_TOKEN, if it needs a token); a Secret.from_env_var holds only the variables' names, and stays.
        if isinstance(self.token, Secret) and self.token.type == SecretType.TOKEN:
            return None
        return self.token

    def _options_dict(self) -> dict[str, Any]:
        """The common options as `to_dict` writes them: the device as a dict, the token as a `Secret`."""
        options = {name: getattr(self, name) for name in COMMON_OPTIONS}
        options["device"] = self.device.to_dict() if self.device is not None else None
        options["token"] = self.token.to_dict() if self.token is not None else None
        return options

    @classmethod
    def from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
        """Make the component from the dictionary `to_dict` wrote (`data` is not modified).

        Args:
            data: The serialised component.

        Returns:
            The component.
        """
        component: _C = default_from_dict(cls, deserialize_init_parameters(data))
        return component
