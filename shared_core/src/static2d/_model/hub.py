"""Finding a model's files: a local directory, or a snapshot of a Hugging Face hub repository (huggingface_hub)."""

from __future__ import annotations

import os
import re
from pathlib import Path

# What a model needs on disk: configs, tokenizers, safetensors weights. Never pickles (*.bin, *.pt), never ONNX
# or other runtimes' files: they are not read and would only cost download time.
_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.md"]
_REMOTE_CODE_PATTERNS = ["*.py"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def is_local(model: str) -> bool:
    """Whether `model` names a local directory (or cannot be a hub id, so can only be a path)."""
    return Path(model).expanduser().exists() or not _HUB_ID.match(model)


def locate(
    model: str | os.PathLike[str],
    *,
    revision: str | None,
    cache_folder: str | os.PathLike[str] | None,
    local_files_only: bool,
    trust_remote_code: bool,
    token: str | bool | None = None,
) -> Path:
    """Return the local directory holding `model` (checked by the options): the directory, or its hub snapshot."""
    model = os.fspath(model)
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        msg = f"model={model!r} is a file; pass the directory that holds the model's files instead."
        raise ValueError(msg)
    if not _HUB_ID.match(model):  # ./x, ../x, /x, ~/x, a/b/c, x\\y: a path, never a hub id
        raise ValueError(no_folder_message(model))

    def snapshot() -> Path:
        return _snapshot(
            model,
            revision=revision,
            cache_folder=cache_folder,
            local_files_only=local_files_only,
            trust_remote_code=trust_remote_code,
            token=token,
        )

    if not Path(model).parent.expanduser().is_dir():
        return snapshot()
    # 'models/my-model' where ./models is a folder: a folder meant, most likely, but a hub id too ('BAAI/bge-small'
    # beside a ./BAAI folder); the hub is asked, and where it has no such model the missing folder is the answer.
    try:
        return snapshot()
    except (OSError, ValueError) as e:
        msg = f"{no_folder_message(model)} As a Hugging Face hub id, it fails too: {e}"
        raise ValueError(msg) from None


def no_folder_message(model: str) -> str:
    """Why `model`, a path, names no model: the absolute path looked at, the nearest folder that exists, the fix.

    Example:
        >>> print(no_folder_message("/srv/models/my-model"))  # doctest: +SKIP
        model='/srv/models/my-model' names no folder: there is no /srv/models/my-model (/srv/models exists, but
        holds no 'my-model'). Check the path, or pass the path of the folder that holds the model's files ...
    """
    looked = Path(os.path.abspath(Path(model).expanduser()))
    nearest = next((folder for folder in looked.parents if folder.is_dir()), None)
    msg = f"model={model!r} names no folder: there is no {looked}"
    if nearest is not None and nearest == looked.parent:
        msg += f" ({nearest} exists, but holds no {looked.name!r})"
    elif nearest is not None:
        msg += f" (the nearest folder that exists is {nearest})"
    if not Path(model).expanduser().is_absolute():
        msg += f"; a relative path is read from the working directory, {Path.cwd()}"
    return (
        f"{msg}. Check the path, or pass the path of the folder that holds the model's files (config.json, "
        "modules.json, model.safetensors, ...), or a Hugging Face hub id ('owner/name')."
    )


def _snapshot(
    repo_id: str,
    *,
    revision: str | None,
    cache_folder: str | os.PathLike[str] | None,
    local_files_only: bool,
    trust_remote_code: bool,
    token: str | bool | None,
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    patterns = _ALLOW_PATTERNS + (_REMOTE_CODE_PATTERNS if trust_remote_code else [])
    # Each error is raised `from None`: its message says what happened and what to do, and huggingface_hub's
    # chained tracebacks (its HTTP layers) would only bury it. Their exception stays reachable as `__context__`.
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=None if cache_folder is None else os.fspath(cache_folder),
            local_files_only=local_files_only,
            allow_patterns=patterns,
            token=token,
        )
    except GatedRepoError:
        msg = f"{repo_id!r} is a gated model: accept its terms on the hub and log in (`hf auth login`) first."
        raise OSError(msg) from None
    except RepositoryNotFoundError:
        msg = (
            f"No model {repo_id!r} on the Hugging Face hub (or it is private). Check the id, log in for a private "
            "model, or pass a local directory."
        )
        raise ValueError(msg) from None
    except RevisionNotFoundError:
        msg = f"Model {repo_id!r} has no revision {revision!r}. Pass an existing branch, tag or commit."
        raise ValueError(msg) from None
    except LocalEntryNotFoundError as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
        why = "HF_HUB_OFFLINE is set" if offline else ("local_files_only=True" if local_files_only else _root_cause(e))
        msg = (
            f"Model {repo_id!r} is not in the local cache ({cache_folder or 'the default Hugging Face cache'}) and "
            f"cannot be downloaded ({why}). Download it once with network access (unset HF_HUB_OFFLINE / "
            "local_files_only), or pass the path of a local directory holding the model."
        )
        raise OSError(msg) from None
    return Path(folder)


def _root_cause(error: BaseException) -> str:
    """The first exception of a chain, in one line: why the hub could not be reached (a timeout, a proxy, ...)."""
    while (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = " ".join(str(error).split())
    return f"the hub could not be reached: {type(error).__name__}{': ' + text[:200] if text else ''}"


# A hub snapshot in a Hugging Face cache: .../models--{owner}--{name}/snapshots/{commit}
_SNAPSHOT = re.compile(r"models--(?P<owner>[\w.\-]+?)--(?P<name>[\w.\-]+)[/\\]snapshots[/\\][0-9a-f]+[/\\]?$")
_CACHE_HASH = re.compile(r"-[0-9a-f]{12,}$")  # a cache folder's content hash: minilm-distilled-model2vec-b0c1dbd016ae
_GENERIC_FOLDERS = {"model", "models", "snapshot", "snapshots", ""}


def display_name(model: str | os.PathLike[str]) -> str:
    """The name a reader knows a model by, for titles and tables (never used to find files).

    A hub id is itself; a hub snapshot in a cache is its repo id; a local folder is the name its model card
    gives (`model_name:`, or its first heading), else the folder's name without a cache hash (with the parent's,
    for a folder called just "model").

    Example:
        >>> display_name("~/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/c9745ed1")
        'sentence-transformers/all-MiniLM-L6-v2'
    """
    text = os.fspath(model)
    found = _SNAPSHOT.search(text)
    if found:
        return f"{found['owner']}/{found['name']}"
    path = Path(text).expanduser()
    if not path.is_dir():
        return text
    card = _card_name(path / "README.md")
    if card:
        return card
    name = _CACHE_HASH.sub("", path.name)
    return f"{path.parent.name}/{name}" if name.lower() in _GENERIC_FOLDERS else name


def _card_name(readme: Path) -> str | None:
    """The model's name in its model card: `model_name:` in the front matter, else the first `# ` heading.

    Names a tool wrote without knowing the model ("SentenceTransformer based on ...", a temporary folder's
    ".building-..." name) are not names.
    """
    try:
        with readme.open(encoding="utf-8") as f:
            head = f.read(16_000)
    except (OSError, UnicodeDecodeError):
        return None
    candidates = []
    if head.startswith("---"):
        front = head[3:].split("\n---", 1)[0]
        candidates += [
            line.partition(":")[2].strip().strip("'\"") for line in front.splitlines() if line.startswith("model_name:")
        ]
    candidates += [line[2:].strip() for line in head.splitlines() if line.startswith("# ")][:1]
    for candidate in candidates:
        name = candidate.removesuffix(" Model Card").strip()
        if name and not name.startswith((".", "SentenceTransformer", "{")) and len(name) <= 80:
            return name
    return None
