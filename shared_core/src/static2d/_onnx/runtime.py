"""The ONNX Runtime engine: a transformer cut to `layers` in an ONNX graph, run by ONNX Runtime.

Then sentence-transformers' pooling, Dense heads and Normalize in numpy. Runs with onnxruntime, tokenizers and
numpy alone (no torch).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from static2d import _threads
from static2d._cells import Cell, by_chunks, finish
from static2d._model.describe import Pipeline, TransformerDescription
from static2d._model.files import read_tokenizer
from static2d._onnx.head import Dense, pool
from static2d._tokens.transformer import PromptLength
from static2d._vectors import normalize_rows

# ONNX Runtime is handed this many batches at once, so it can sort them by length.
_CHUNK_BATCHES = 16


def output_name(depth: int, layers: int) -> str:
    """The ONNX graph output holding layer `depth`'s token embeddings, as a model cut there returns them."""
    return "last_hidden_state" if depth == layers else f"layer_{depth}"


_CUDA = "CUDAExecutionProvider"


def providers(device: str) -> list[Any]:
    """ONNX Runtime's execution providers for `device`: the CPU's, or CUDA's on device_id N ("cuda:N") first."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    return [(_CUDA, {"device_id": int(device.partition(":")[2] or 0)}), "CPUExecutionProvider"]


class OnnxUnsupportedError(ValueError):
    """The model cannot run on ONNX Runtime here (a module, an architecture or an export static2d cannot do)."""


def transformer_tokenizer(pipeline: Pipeline, name: str = "") -> Any:  # noqa: ANN401 - a tokenizers.Tokenizer
    """The transformer's fast tokenizer, set up as sentence-transformers sets it (lower case, truncation)."""
    from tokenizers import normalizers

    tok = read_tokenizer(pipeline.tf_dir / "tokenizer.json", name or str(pipeline.tf_dir))
    tok.no_padding()
    if pipeline.do_lower_case:
        # As sentence-transformers: a Lowercase normalizer goes first unless there is one already.
        current = tok.normalizer
        # (cast: tokenizers' stubs differ between releases on whether a Sequence iterates)
        members = cast("Iterable[Any]", current) if isinstance(current, normalizers.Sequence) else [current]
        has_lower = any(isinstance(n, normalizers.Lowercase) for n in members)
        if not has_lower:
            tok.normalizer = normalizers.Sequence([normalizers.Lowercase(), *([current] if current else [])])
    if pipeline.max_length is not None:
        tok.enable_truncation(int(pipeline.max_length), strategy="longest_first", direction=pipeline.truncation_side)
    else:
        tok.no_truncation()
    return tok


def pad_id(pipeline: Pipeline, tokenizer: Any) -> int:  # noqa: ANN401 - a tokenizers.Tokenizer
    """The padding token's id (0 when the tokenizer config names none)."""
    found = tokenizer.token_to_id(pipeline.pad_token) if pipeline.pad_token is not None else None
    return int(found) if found is not None else 0


def _special_ids(tokenizer: Any) -> set[int]:  # noqa: ANN401 - a tokenizers.Tokenizer
    added = json.loads(tokenizer.to_str()).get("added_tokens") or []
    return {int(t["id"]) for t in added if t.get("special")}


def batch_arrays(encodings: Sequence[Any], rows: Iterable[int], pad: int) -> dict[str, npt.NDArray[np.int64]]:
    """input_ids, attention_mask and token_type_ids of the encodings `rows`, right-padded to the longest."""
    chosen = [encodings[r] for r in rows]
    width = max((len(e.ids) for e in chosen), default=0)
    ids = np.full((len(chosen), width), pad, dtype=np.int64)
    mask = np.zeros((len(chosen), width), dtype=np.int64)
    types = np.zeros((len(chosen), width), dtype=np.int64)
    for i, e in enumerate(chosen):
        n = len(e.ids)
        ids[i, :n] = e.ids
        mask[i, :n] = 1
        types[i, :n] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class OnnxEngine:
    """A transformer cut to `layers` in an ONNX graph, run by ONNX Runtime; shared by every encoder asking for it.

    Made by `_engines` once the graph is at hand (`model`: its bytes or path; `inputs`: its input names).
    """

    kind: Literal["transformer"] = "transformer"
    runtime: Literal["onnx"] = "onnx"
    device = "cpu"
    dtype = "float32"
    default_batch_size = 32
    kernel = "none"

    def __init__(
        self,
        description: TransformerDescription,
        *,
        model: bytes | str,
        inputs: Sequence[str],
        layers: int,
        max_length: int | None,
        device: str = "cpu",
    ) -> None:
        import onnxruntime

        pipeline = description.pipeline
        if max_length is not None:
            from dataclasses import replace

            pipeline = replace(pipeline, max_length=max_length)
        self.pipeline = pipeline
        self.inputs = tuple(inputs)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if _threads.configured() is not None:  # else ONNX Runtime's default: one thread per physical core
            options.intra_op_num_threads = _threads.limit()
        self.device = device
        self.session = onnxruntime.InferenceSession(model, options, providers=providers(device))
        if device != "cpu" and _CUDA not in self.session.get_providers():
            # ONNX Runtime falls back to the CPU, with a log line only, where its CUDA provider cannot start
            msg = (
                f"device={device!r}: ONNX Runtime could not start its {_CUDA} on {device} (the session fell back to "
                f"{', '.join(self.session.get_providers())}), so the model would run on the CPU. Check that the CUDA "
                "and cuDNN libraries onnxruntime-gpu needs are installed, or use backend='torch' for this device, "
                "or device='cpu'."
            )
            raise ValueError(msg)
        self.dense = tuple(Dense.load(d) for d in pipeline.dense)
        self.tokenizer = transformer_tokenizer(pipeline, description.name)
        self.pad_id = pad_id(pipeline, self.tokenizer)
        self.special_ids = _special_ids(self.tokenizer)
        self.max_layers: int | None = description.max_layers
        self.layers: int | None = layers
        self.max_length = pipeline.max_length
        self.outputs = {o.name for o in self.session.get_outputs()}
        hidden = int(self.session.get_outputs()[0].shape[-1])
        self.max_dims = self.dense[-1].weight.shape[0] if self.dense else hidden * len(pipeline.pooling)
        self.prompt_length = PromptLength(self._count_prompt)

    def _count_prompt(self, prompt: str) -> int:
        """The prompt's tokens as sentence-transformers counts them (its trailing special token left out)."""
        ids = self.tokenizer.encode(prompt).ids
        return len(ids) - (1 if ids and ids[-1] in self.special_ids else 0)

    def encode(
        self,
        texts: Sequence[str],
        prompt: str,
        cells: Sequence[Cell],
        *,
        normalize: bool,
        batch_size: int,
        progress: Callable[[int], object] | None = None,
    ) -> dict[Cell, npt.NDArray[np.float32]]:
        """The texts' vectors at each (depth, dims) of `cells`, every depth from one run of the graph per batch.

        ONNX Runtime is handed `_CHUNK_BATCHES` batches of texts at once, so that it sorts them by length.
        """
        depths = sorted({depth for depth, _ in cells})

        def run(chunk: Sequence[str]) -> dict[int, npt.NDArray[np.float32]]:
            return self.encode_layers(chunk, prompt, depths, batch_size)

        full = by_chunks(texts, batch_size * _CHUNK_BATCHES, run, progress)
        return finish(full, cells, normalize=normalize)

    def encode_layers(
        self, texts: Sequence[str], prompt: str, layers: Sequence[int], batch_size: int
    ) -> dict[int, npt.NDArray[np.float32]]:
        """The model's full-width output at each of `layers` (1..self.layers), from one run of the graph per batch.

        The texts are tokenized, sorted by length, run `batch_size` at a time, pooled and put back in order.
        """
        names = [output_name(d, self.layers or 0) for d in layers]
        missing = [n for n in names if n not in self.outputs]
        if missing:
            msg = (
                f"This ONNX graph has no {missing[0]} output, so encode_grid() cannot read that layer from it "
                "(the model's output is not its last layer's). Use backend='torch', or one encoder per depth."
            )
            raise ValueError(msg)
        texts = [prompt + t for t in texts] if prompt else list(texts)
        skip = 0 if self.pipeline.include_prompt else self.prompt_length(prompt)
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")
        out = {d: np.empty((len(texts), self.max_dims), dtype=np.float32) for d in layers}
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            feed = batch_arrays(encodings, rows, self.pad_id)
            hidden_states = self.session.run(names, {k: feed[k] for k in self.inputs})
            for depth, hidden in zip(layers, hidden_states, strict=True):
                vectors = pool(hidden, feed["attention_mask"], self.pipeline.pooling, skip)
                for dense in self.dense:
                    vectors = dense(vectors)
                if self.pipeline.normalize:
                    vectors = normalize_rows(vectors, eps=1e-12)
                out[depth][rows] = vectors
        return out
