"""Other embedders' option names, and the one message that refuses an option static2d does not take.

Users arrive from LangChain's HuggingFaceEmbeddings, LlamaIndex's HuggingFaceEmbedding and Haystack's
SentenceTransformers(Text|Document)Embedder, all over sentence-transformers, and bring their option names. Every
adapter refuses such a name with the static2d option to use instead (never takes it and ignores it): the names
live here, once (`PEER_OPTIONS`), and `unknown_option_message` writes the refusal of any name the core, an adapter
or the command line does not take: another embedder's name gets its static2d option, a misspelt or guessed one the
closest real option ("did you mean").
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

_LANGCHAIN = "LangChain's HuggingFaceEmbeddings"
_LLAMAINDEX = "LlamaIndex's HuggingFaceEmbedding"
_HAYSTACK = "Haystack's SentenceTransformers embedders"
_ST = "sentence-transformers"
_PROMPTS = ("query_prompt", "document_prompt")
_ONE_PROCESS = (
    "static2d embeds in one process: a static model embeds tens of thousands of texts a second on one CPU core, "
    "and a transformer runs on every core (or on `device`). To spread a large corpus over processes or machines, "
    "use static2d.BatchEncoder with Ray Data or pandas."
)
_SAVED_PROMPTS = (
    "static2d puts the model's saved 'query' prompt before queries and its document prompt before documents; set "
    "query_prompt / document_prompt to use others."
)
_POOLING = "static2d reads the pooling (and the rest of the pipeline) from the model's own files."
_NO_DICT = "static2d takes each setting as an option of its own"


@dataclass(frozen=True)
class PeerOption:
    """Another embedder's option: whose it is, and the static2d option(s) to use instead (or why there is none).

    `use` with `why`: the static2d option does the same job, but does not take this option's value (the message
    names the option and says why); `use` alone: the value carries over as it is (`truncate_dim=128` is `dims=128`).
    """

    origin: str
    use: tuple[str, ...] = ()
    why: str = ""
    holds_options: bool = False  # a dict of sentence-transformers / transformers arguments (model_kwargs, ...)


PEER_OPTIONS: dict[str, PeerOption] = {
    "model_name": PeerOption(f"{_LANGCHAIN} and {_LLAMAINDEX}", ("model",)),
    "model_name_or_path": PeerOption(f"{_HAYSTACK} before 2.3", ("model",)),
    "repo_id": PeerOption("LangChain's HuggingFaceEndpointEmbeddings", ("model",)),
    "truncate_dim": PeerOption(f"{_ST} and {_HAYSTACK}", ("dims",)),
    "dim": PeerOption("other embedders", ("dims",)),
    "dimensions": PeerOption("OpenAI-style embedders", ("dims",)),
    "output_dimensionality": PeerOption("Google's embedders", ("dims",)),
    "normalize_embeddings": PeerOption(f"{_HAYSTACK} and {_ST}' encode()", ("normalize",)),
    "show_progress": PeerOption(_LANGCHAIN, ("show_progress_bar",)),
    "progress_bar": PeerOption(_HAYSTACK, ("show_progress_bar",)),
    "multi_process": PeerOption(_LANGCHAIN, why=_ONE_PROCESS),
    "parallel_process": PeerOption(_LLAMAINDEX, why=_ONE_PROCESS),
    "target_devices": PeerOption(_LLAMAINDEX, why=_ONE_PROCESS),
    "query_instruction": PeerOption(_LLAMAINDEX, ("query_prompt",)),
    "text_instruction": PeerOption(_LLAMAINDEX, ("document_prompt",)),
    "embed_instruction": PeerOption("LangChain's instruct embeddings", ("document_prompt",)),
    "document_instruction": PeerOption("other embedders", ("document_prompt",)),
    "prefix": PeerOption(_HAYSTACK, _PROMPTS),
    "prompts": PeerOption(_ST, _PROMPTS),
    "prompt": PeerOption(f"{_ST}' encode()", _PROMPTS),
    "prompt_name": PeerOption(f"{_ST}' encode()", why=_SAVED_PROMPTS),
    "default_prompt_name": PeerOption(_ST, why=_SAVED_PROMPTS),
    "cache_dir": PeerOption("transformers", ("cache_folder",)),
    "max_seq_length": PeerOption(_ST, ("max_length",)),
    "embed_batch_size": PeerOption("LlamaIndex", ("batch_size",)),
    "hf_token": PeerOption("other embedders", ("token",)),
    "use_auth_token": PeerOption("older Hugging Face libraries", ("token",)),
    "auth_token": PeerOption("other embedders", ("token",)),
    "huggingfacehub_api_token": PeerOption("LangChain's Hugging Face endpoints", ("token",)),
    "pooling": PeerOption(_LLAMAINDEX, why=_POOLING),
    "tokenizer_name": PeerOption(_LLAMAINDEX, why=_POOLING),
    "torch_dtype": PeerOption("transformers", ("dtype",)),
    "quantization_ranges": PeerOption(
        _HAYSTACK,
        ("precision",),
        why=(
            "precision='int8' or 'uint8' quantizes as sentence-transformers' quantize_embeddings does, with each "
            "dimension's range fixed per model and settings from static2d's calibration text (never by the batch), "
            "so there are no ranges to pass"
        ),
    ),
    "model_kwargs": PeerOption(f"{_LANGCHAIN} and {_HAYSTACK}", holds_options=True),
    "encode_kwargs": PeerOption(f"{_LANGCHAIN} and {_HAYSTACK}", holds_options=True),
    "query_encode_kwargs": PeerOption(_LANGCHAIN, holds_options=True),
    "tokenizer_kwargs": PeerOption(_HAYSTACK, holds_options=True),
    "config_kwargs": PeerOption(_HAYSTACK, holds_options=True),
}
"""Other embedders' option names, each with the static2d option(s) to use instead, or why static2d has none."""

# Names a user guesses for a static2d option (beyond the other embedders' names above, and the close spellings
# difflib finds): each with the option it means.
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("dimension", "embedding_dim", "embedding_size", "output_dim", "output_dims", "n_dims", "num_dims"), "dims"
    ),
    **dict.fromkeys(("num_layers", "n_layers", "depth", "num_hidden_layers", "n_layer", "layer"), "layers"),
    **dict.fromkeys(("model_id", "model_path", "path", "name", "repo"), "model"),
    **dict.fromkeys(("max_seq_len", "max_tokens", "max_len", "truncation"), "max_length"),
    **dict.fromkeys(("offline",), "local_files_only"),
    **dict.fromkeys(("branch", "tag", "commit"), "revision"),
    **dict.fromkeys(("api_key", "hf_api_token"), "token"),
    **dict.fromkeys(("quantization",), "quantize"),
    **dict.fromkeys(("runtime", "engine"), "backend"),
}

# What the dict options above hold (sentence-transformers' constructor and encode() arguments, transformers'
# from_pretrained ones), with static2d's option for each.
_PEER_KEYS: dict[str, tuple[str, ...]] = {
    "device": ("device",),
    "trust_remote_code": ("trust_remote_code",),
    "revision": ("revision",),
    "token": ("token",),
    "use_auth_token": ("token",),
    "local_files_only": ("local_files_only",),
    "cache_folder": ("cache_folder",),
    "cache_dir": ("cache_folder",),
    "backend": ("backend",),
    "precision": ("precision",),
    "batch_size": ("batch_size",),
    "normalize_embeddings": ("normalize",),
    "truncate_dim": ("dims",),
    "show_progress_bar": ("show_progress_bar",),
    "max_seq_length": ("max_length",),
    "model_max_length": ("max_length",),
    "max_length": ("max_length",),
    "torch_dtype": ("dtype",),
    "dtype": ("dtype",),
}
_QUERY_PROMPT_NAMES = ("query", "search_query", "question")


def _prompt_options(prompts: object) -> dict[str, object]:
    """sentence-transformers' `prompts` dict as static2d's query_prompt / document_prompt."""
    if not isinstance(prompts, Mapping):
        return {}
    found: dict[str, object] = {}
    for key, prompt in prompts.items():
        option = "query_prompt" if str(key) in _QUERY_PROMPT_NAMES else "document_prompt"
        found.setdefault(option, prompt)
    return found


def _translate(name: str, value: object, takes: Collection[str]) -> tuple[dict[str, object], list[str]]:
    """The static2d options a peer's option (or dict of options) stands for, and the keys that have none."""
    peer = PEER_OPTIONS[name]
    if peer.holds_options:
        if not isinstance(value, Mapping):
            return {}, []
        options: dict[str, object] = {}
        missing: list[str] = []
        for given, item in value.items():
            key = str(given)
            if key == "prompts":
                options.update(_prompt_options(item))
            elif key == "prompt":
                options.update(dict.fromkeys(("query_prompt",) if name == "query_encode_kwargs" else _PROMPTS, item))
            elif key in _PEER_KEYS and all(option in takes for option in _PEER_KEYS[key]):
                options.update(dict.fromkeys(_PEER_KEYS[key], item))
            elif key == "model_kwargs" and isinstance(item, Mapping):  # sentence-transformers' own, for transformers
                inner, lost = _translate("model_kwargs", item, takes)
                options.update(inner)
                missing += lost
            else:
                missing.append(key)
        return options, missing
    if name == "prompts":
        return _prompt_options(value), []
    if peer.use and not peer.why and all(option in takes for option in peer.use):  # the value carries over
        return dict.fromkeys(peer.use, value), []
    return {}, [name] if peer.use else []


def _dtype_name(value: object) -> str:
    """A torch dtype (torch.bfloat16, as transformers takes it) written as the dtype option's value ('bfloat16')."""
    return repr(value if isinstance(value, str) else str(value).removeprefix("torch."))


def peer_option_message(
    owner: str,
    name: str,
    value: object,
    takes: Collection[str],
    spell: Mapping[str, Callable[[object], str]] | None = None,
) -> str | None:
    """The refusal of another embedder's option `name=value` by `owner`, naming the static2d option(s) to use.

    Args:
        owner: The class refusing it, e.g. "Static2DEmbeddings".
        name: The option given.
        value: Its value (a dict option is translated entry by entry).
        takes: Every option `owner` takes: a name it takes is not refused, and only these are suggested.
        spell: How `owner` writes the value of an option, where it is not the plain value (Haystack's
            `device=ComponentDevice.from_str('cuda')`). A token's value is never written.

    Returns:
        The message of the TypeError to raise, or None when `name` is not another embedder's option name (or is
        one that `owner` takes too).

    Example:
        >>> print(peer_option_message("Static2DEmbeddings", "truncate_dim", 128, ["dims"]))
        Static2DEmbeddings has no option 'truncate_dim' (an option of sentence-transformers and Haystack's \
SentenceTransformers embedders): use the static2d option dims=128 instead.
    """
    spelling = {"token": lambda _: "<your token>", "dtype": _dtype_name, **(spell or {})}
    peer = PEER_OPTIONS.get(name)
    if peer is None or name in takes:
        return None
    head = f"{owner} has no option {name!r} (an option of {peer.origin})"
    options, missing = _translate(name, value, takes)
    shown = ", ".join(f"{option}={spelling.get(option, repr)(item)}" for option, item in options.items())
    if options:
        msg = f"{head}: use the static2d option{'s' if len(options) > 1 else ''} {shown} instead."
        if missing:
            msg += f" {', '.join(missing)}: no static2d equivalent; leave {'them' if len(missing) > 1 else 'it'} out."
    elif peer.holds_options and missing:
        msg = f"{head}: {', '.join(missing)} {'have' if len(missing) > 1 else 'has'} no static2d equivalent; leave "
        msg += f"{name} out (static2d's options: {', '.join(sorted(takes))})."
    elif peer.holds_options:
        msg = f"{head}: {_NO_DICT} ({', '.join(sorted(takes))}); leave {name} out."
    elif peer.use and all(option in takes for option in peer.use):
        # the static2d option(s) to use, where the value does not carry over as it is (prompts='query: ')
        names = ", ".join(peer.use)
        msg = f"{head}: use the static2d option{'s' if len(peer.use) > 1 else ''} {names} instead"
        msg += f": {peer.why}." if peer.why else "."
    elif peer.why and not peer.use:
        msg = f"{head}: {peer.why}"
    else:
        msg = f"{head}, and static2d has no {', '.join(peer.use)} option here; leave it out."
    return msg


def suggest(name: str, takes: Collection[str]) -> tuple[str, ...]:
    """The options of `takes` that an unknown option `name` most likely means (none: nothing close).

    Another embedder's name gives the static2d option(s) for it; a guessed name (`dimension`, `num_layers`) its
    alias; anything else the closest spelling (difflib), case and hyphens aside (`Batch-Size` is `batch_size`).

    Example:
        >>> suggest("dimension", ["model", "dims", "layers"]), suggest("normalise", ["dims", "normalize"])
        (('dims',), ('normalize',))
    """
    key = name.strip().lower().replace("-", "_").lstrip("_")
    for candidate in (name, key):
        peer = PEER_OPTIONS.get(candidate)
        if peer is not None and peer.use and all(option in takes for option in peer.use):
            return peer.use
        if ALIASES.get(candidate) in takes:
            return (ALIASES[candidate],)
    by_key = {option.lower(): option for option in takes}
    if key in by_key:
        return (by_key[key],)
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)
    return (by_key[close[0]],) if close else ()


_NO_VALUE = object()


def unknown_option_message(
    owner: str,
    name: str,
    takes: Collection[str],
    value: object = _NO_VALUE,
    *,
    listed: Collection[str] | None = None,
    spell: Mapping[str, Callable[[object], str]] | None = None,
    as_flags: bool = False,
) -> str:
    """The one refusal of an option `owner` does not take: the core's `load`, each adapter's, the command line's.

    Another embedder's option (`truncate_dim`, `model_kwargs`) gets `peer_option_message`'s answer; any other name
    the closest real option ("did you mean dims=256?", by `suggest`) and the list of options.

    Args:
        owner: Who refuses it, as the user called it: "static2d.load", "Static2DEmbeddings".
        name: The option given.
        takes: Every option `owner` takes (only these are suggested).
        value: Its value, written into the suggestion (`dims=256`); left out, the suggestion is the name alone.
        listed: The options the message lists (default: `takes`), e.g. without a base class's internals.
        spell: How `owner` writes an option's value, as for `peer_option_message`.
        as_flags: Write the options as a command line's flags (`--batch-size`); `name` is shown as given.

    Returns:
        The message of the TypeError to raise.

    Example:
        >>> print(unknown_option_message("static2d.load", "dimension", ["model", "dims"], 256))
        static2d.load has no option 'dimension': did you mean dims=256? Its options: model, dims.
    """
    if value is not _NO_VALUE:
        peer = peer_option_message(owner, name, value, takes, spell)
        if peer is not None:
            return peer
    spelling = {"token": lambda _: "<your token>", "dtype": _dtype_name, **(spell or {})}

    def written(option: str) -> str:
        return f"--{option.replace('_', '-')}" if as_flags else option

    shown = [
        written(option) if value is _NO_VALUE else f"{option}={spelling.get(option, repr)(value)}"
        for option in suggest(name, takes)
    ]
    msg = f"{owner} has no option {name!r}"
    if shown:
        msg += f": did you mean {' or '.join(shown)}?"
    else:
        msg += "."
    return f"{msg} Its options: {', '.join(map(written, takes if listed is None else listed))}."


_P = ParamSpec("_P")
_R = TypeVar("_R")


def refuses_unknown_options(owner: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Make a function refuse a keyword it does not take with `unknown_option_message`, not Python's own words.

    Python's "got an unexpected keyword argument 'dimension'" names no option to use; the function's signature
    (what `inspect.signature` and the docs read) stays its own.

    Example:
        >>> @refuses_unknown_options("static2d.load")
        ... def load(model: str, *, dims: int | None = None) -> None: ...
        >>> load("m", dimension=256)
        Traceback (most recent call last):
        TypeError: static2d.load has no option 'dimension': did you mean dims=256? Its options: model, dims.
    """

    def wrap(function: Callable[_P, _R]) -> Callable[_P, _R]:
        parameters = inspect.signature(function).parameters.values()
        takes = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

        @functools.wraps(function)
        def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            for name, value in kwargs.items():
                if name not in takes:
                    raise TypeError(unknown_option_message(owner, name, takes, value))
            return function(*args, **kwargs)

        return checked

    return wrap
