"""What both embedders share: turning Haystack's `ComponentDevice` and `Secret` into the core's options."""

from __future__ import annotations

from typing import Any

from haystack.utils import ComponentDevice, Secret, deserialize_secrets_inplace

import static2d

DEFAULT_MODEL = "sentence-transformers/static-retrieval-mrl-en-v1"
DEFAULT_TOKEN = Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)


def load_encoder(
    model: str,
    *,
    dims: int | None,
    layers: int | None,
    normalize: bool,
    batch_size: int | None,
    query_prompt: str | None,
    document_prompt: str | None,
    device: object,
    revision: str | None,
    cache_folder: str | None,
    local_files_only: bool,
    trust_remote_code: bool,
    max_length: int | None,
    token: object,
) -> static2d.Encoder:
    """Check the options and return a lazy core encoder: the model loads on `warm_up()` or first use.

    `device` must be a `ComponentDevice` (or None) and `token` a `Secret` (or None): they are typed `object` here
    because this is where a wrong type from user code or YAML is caught.
    """
    if device is not None and not isinstance(device, ComponentDevice):
        msg = (
            f"device must be a haystack ComponentDevice (e.g. ComponentDevice.from_str('cuda:0')) or None, "
            f"got {device!r} ({type(device).__name__})."
        )
        raise TypeError(msg)
    if token is not None and not isinstance(token, Secret):
        msg = (
            "token must be a haystack Secret (e.g. Secret.from_env_var('HF_TOKEN')) or None, "
            f"got a {type(token).__name__}. A plain string would be written into serialised pipelines."
        )
        raise TypeError(msg)
    return static2d.load(
        model,
        dims=dims,
        layers=layers,
        normalize=normalize,
        batch_size=batch_size,
        device=device.to_torch_str() if device is not None else None,
        revision=revision,
        cache_folder=cache_folder,
        local_files_only=local_files_only,
        trust_remote_code=trust_remote_code,
        query_prompt=query_prompt,
        document_prompt=document_prompt,
        max_length=max_length,
        token=token.resolve_value() if token is not None else None,
        lazy=True,
    )


def deserialize_init_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` with its serialised `token` and `device` turned back into `Secret` and `ComponentDevice`."""
    init_parameters = dict(data.get("init_parameters", {}))
    deserialize_secrets_inplace(init_parameters, keys=["token"])
    if isinstance(init_parameters.get("device"), dict):
        init_parameters["device"] = ComponentDevice.from_dict(init_parameters["device"])
    return {**data, "init_parameters": init_parameters}
