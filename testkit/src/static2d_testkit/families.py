"""Small tokenizers of every family a static model ships, trained here on multilingual text (no download).

`train_tokenizer(family)` trains one with Hugging Face `tokenizers` (and, for the SentencePiece normalizer,
`sentencepiece`) on `multilingual_texts` plus English STS-B sentences, laid out as the real models of that family
are: BERT's WordPiece (cased and uncased), GPT-2 / RoBERTa byte-level BPE, Unigram with NFKC and Metaspace, the
XLM-R / bge-m3 kind (Unigram, SentencePiece's `nmt_nfkc` Precompiled normalizer, spaces collapsed, Metaspace),
Llama-2's SentencePiece-style BPE (no pre-tokenizer, "▁" for spaces, byte fallback), BPE with a Lowercase
normalizer, and WordLevel. `make_family_model` saves one as a model2vec model (by model2vec) and as a
sentence-transformers StaticEmbedding folder, with a random table.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np

from static2d_testkit.multilingual import multilingual_texts
from static2d_testkit.sts import sts_dev

Family = Literal[
    "wordpiece-uncased",
    "wordpiece-cased",
    "byte-bpe",
    "unigram-nfkc",
    "unigram-precompiled",
    "sp-bpe-byte-fallback",
    "bpe-lowercase",
    "wordlevel",
]
FAMILIES: tuple[Family, ...] = (
    "wordpiece-uncased",
    "wordpiece-cased",
    "byte-bpe",
    "unigram-nfkc",
    "unigram-precompiled",
    "sp-bpe-byte-fallback",
    "bpe-lowercase",
    "wordlevel",
)


def training_texts(n: int = 6000) -> list[str]:
    """What the tokenizers are trained on: `n` multilingual sentences (seed 1) and 1,000 English STS-B sentences."""
    first, second, _ = sts_dev()
    return multilingual_texts(n, seed=1) + first[:500] + second[:500]


def train_tokenizer(family: Family, vocab_size: int = 4000) -> object:
    """A `tokenizers.Tokenizer` of `family`, trained on `training_texts()`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    texts = training_texts()
    if family in ("wordpiece-uncased", "wordpiece-cased"):
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))  # noqa: S106 - a token, not a password
        tok.normalizer = normalizers.BertNormalizer(lowercase=family == "wordpiece-uncased")
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special))
    elif family == "byte-bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<s>", "</s>", "<pad>", "<mask>"],
        )
        tok.train_from_iterator(texts, trainer)
    elif family == "unigram-nfkc":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, unk_token="<unk>", special_tokens=["<unk>"])  # noqa: S106
        tok.train_from_iterator(texts, trainer)
    elif family == "unigram-precompiled":
        return _xlmr_like(texts, vocab_size)
    elif family == "sp-bpe-byte-fallback":
        return _llama_like(texts, vocab_size)
    elif family == "bpe-lowercase":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))  # noqa: S106
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["[UNK]"]))
    elif family == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))  # noqa: S106
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=["[UNK]"]))
    else:
        msg = f"family must be one of {FAMILIES}, got {family!r}"
        raise ValueError(msg)
    return tok


def _xlmr_like(texts: list[str], vocab_size: int) -> object:
    """Unigram trained by SentencePiece with its nmt_nfkc normalizer, laid out as XLM-R's tokenizer.json."""
    import sentencepiece as spm
    from tokenizers import Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(t.replace("\n", " ") for t in texts), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "m"),
            vocab_size=vocab_size,
            model_type="unigram",
            normalization_rule_name="nmt_nfkc",
            character_coverage=0.9995,
            num_threads=1,
            minloglevel=2,
        )
        proto = (Path(tmp) / "m.model").read_bytes()
        sp = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "m.model"))
        vocab = [[sp.id_to_piece(i), float(sp.get_score(i))] for i in range(sp.get_piece_size())]
        unk_id = sp.unk_id()
    charsmap = _precompiled_charsmap(proto)
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": unk_id,
                "content": vocab[unk_id][0],
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": charsmap},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            ],
        },
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": unk_id, "vocab": vocab, "byte_fallback": False},
    }
    return Tokenizer.from_str(json.dumps(spec))


def _precompiled_charsmap(proto: bytes) -> str:
    """The base64 `precompiled_charsmap` of a SentencePiece model (ModelProto.normalizer_spec, field 3 / field 2)."""
    import base64

    spec = _field(proto, 3)
    return base64.b64encode(_field(spec, 2)).decode("ascii")


def _field(message: bytes, number: int) -> bytes:
    """The first length-delimited field `number` of a serialized protobuf message."""
    i = 0
    while i < len(message):
        key, i = _varint(message, i)
        kind = key & 7
        if kind == 0:
            _, i = _varint(message, i)
        elif kind == 1:
            i += 8
        elif kind == 5:
            i += 4
        elif kind == 2:
            size, i = _varint(message, i)
            if key >> 3 == number:
                return message[i : i + size]
            i += size
        else:
            msg = f"unexpected protobuf wire type {kind}"
            raise ValueError(msg)
    msg = f"field {number} not found"
    raise ValueError(msg)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _llama_like(texts: list[str], vocab_size: int) -> object:
    """BPE laid out as Llama-2's tokenizer.json: "▁" prepended and for every space, no pre-tokenizer, byte fallback.

    The merges are learned on words (SentencePiece never merges across a space), then runs of "▁" are added as
    tokens, as Llama-2's vocabulary has them (for indented code).
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    special = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special))
    spec = json.loads(tok.to_str())
    model = spec["model"]
    vocab: dict[str, int] = model["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    for run in ("▁▁", "▁▁▁", "▁▁▁▁"):
        if run not in vocab:
            vocab[run] = len(vocab)
            merges.append(f"{run[:-1]} ▁")
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in ("<unk>", "<s>", "</s>")]
    spec["pre_tokenizer"] = None
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ],
    }
    model.update({"unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True, "vocab": vocab, "merges": merges})
    return Tokenizer.from_str(json.dumps(spec))


def make_family_model(
    family: Family, root: str | Path, *, dims: int = 32, max_length: int | None = 512, seed: int = 0
) -> tuple[Path, Path]:
    """Write `family`'s tokenizer with a random table in both static formats.

    Returns (a model2vec model saved by model2vec, unnormalized; a sentence-transformers StaticEmbedding folder).
    """
    from model2vec import StaticModel
    from safetensors.numpy import save_file

    root = Path(root)
    tok = train_tokenizer(family)
    n = tok.get_vocab_size()  # type: ignore[attr-defined]
    table = np.random.default_rng(seed).standard_normal((n, dims)).astype(np.float32)
    m2v = root / "model2vec"
    StaticModel(vectors=table, tokenizer=tok, normalize=False, max_length=max_length).save_pretrained(str(m2v))
    st = root / "st"
    (st / "0_StaticEmbedding").mkdir(parents=True, exist_ok=True)
    save_file({"embedding.weight": table}, str(st / "0_StaticEmbedding" / "model.safetensors"))
    tok.save(str(st / "0_StaticEmbedding" / "tokenizer.json"))  # type: ignore[attr-defined]
    kind = "sentence_transformers.models.StaticEmbedding"
    module = {"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": kind}
    (st / "modules.json").write_text(json.dumps([module]))
    return m2v, st


def family_model(
    family: Family, fmt: Literal["model2vec", "sentence-transformers"] = "model2vec", *, dims: int = 32
) -> Path:
    """`make_family_model(family, dims=dims)` (max_length 512), built once and kept in `cache_root()`.

    Returns the model2vec folder, or the sentence-transformers one for `fmt="sentence-transformers"`. Rebuilt when
    this kit's text or tokenizer recipes, model2vec or tokenizers change; written to a temporary directory and
    renamed, so concurrent builders never leave half a model.
    """
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from static2d_testkit import build_once, cache_root

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    here = Path(__file__).parent
    recipe = (here / "families.py").read_bytes() + (here / "multilingual.py").read_bytes()
    stamp = hashlib.sha256(
        recipe + f"{installed('model2vec')}|{installed('tokenizers')}|{installed('sentencepiece')}".encode()
    ).hexdigest()[:12]
    target = cache_root() / f"family-{family}-{dims}-{stamp}"
    build_once(target, "st/modules.json", lambda folder: make_family_model(family, folder, dims=dims))
    return target / ("model2vec" if fmt == "model2vec" else "st")
