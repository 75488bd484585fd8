"""The torch engine: a sentence-transformers model cut to its first `layers` layers, run on its device (torch lazily).

sentence-transformers loads the model (its modules, prompts and max length as saved); the transformer is cut on the
CPU (the dropped layers never reach the device), cast to `dtype` (the transformer only: pooling, Dense heads and
normalisation stay float32), and moved to the device. It is then run directly rather than through
`SentenceTransformer.encode`, as a pipeline that keeps the device busy (`pipeline.Prefetcher`): texts sorted by
length and tokenized on a CPU thread ahead of the device (`tokens.exact_tokenizer`: sentence-transformers' very
ids), batches cut by a token budget rather than a count; on the device the transformer, the model's own Pooling /
Dense / Normalize modules, the cut to `dims` and the normalisation; one copy back per batch, read a few batches
later, so nothing in a batch waits for the device. In float32 the vectors are sentence-transformers' (the same
modules on the same ids; only the batches' composition differs, ~1e-7).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from static2d._cells import Cell
from static2d._device import resolve_device
from static2d._model.describe import TransformerDescription
from static2d._model.weights import check_transformer_weights, quiet_transformers
from static2d._tokens.exact import PROBES
from static2d._tokens.transformer import PromptLength, exact_tokenizer
from static2d._torch.cut import import_sentence_transformers, truncate_layers
from static2d._torch.device import check_dtype_runs, is_accelerator, torch_dtype
from static2d._torch.pipeline import Batch, Prefetcher, assemble
from static2d._torch.tap import LayerTap

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Padded tokens per batch: the device's memory for activations is bounded by this, not by the number of texts.
ACCELERATOR_BATCH_TOKENS = 65536
CPU_BATCH_TOKENS = 1024  # measured: on the CPU, batches that stay in cache beat big ones (docs/performance.md)
# On the CPU a batch holds at least this many texts (as sentence-transformers' default batch): long texts then
# exceed the token budget rather than run a few to a batch, where each operation's fixed cost dominates.
CPU_MIN_BATCH_TEXTS = 32
# Texts per batch when batch_size is not given (the token budget binds first, but on texts of a few tokens).
DEFAULT_BATCH_TEXTS = 4096
_IN_FLIGHT = 2  # batches queued on the device before the oldest one's vectors are read back
# Model types whose transformers code takes a (rows, 1, 1, width) boolean mask as it is (no per-batch check of the
# mask on the device); still proven equal to the 2-D mask's output on the device at load.
_PLAIN_MASK = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "mpnet"})


class TorchEngine:
    """A loaded sentence-transformers model cut to `layers`, shared by every encoder that asks for it.

    Attributes:
        device: Where it runs ("cuda:0", "cpu", ...): as given, or for `device=None` the best accelerator.
        dtype: The transformer's precision ("float32", "bfloat16", "float16").
        max_batch_tokens: Padded tokens per batch at most (65,536 on an accelerator, 1,024 on the CPU).
        tokenizer: What tokenizes (proven to give sentence-transformers' ids at load); `tokenizer.name` says which.
    """

    kind: Literal["transformer"] = "transformer"
    runtime: Literal["torch"] = "torch"
    default_batch_size = DEFAULT_BATCH_TEXTS
    kernel = "none"

    def __init__(
        self,
        description: TransformerDescription,
        *,
        layers: int,
        device: str | None,
        dtype: str = "float32",
        trust_remote_code: bool,
        max_length: int | None,
    ) -> None:
        st = import_sentence_transformers()
        check_transformer_weights(
            description.pipeline.tf_dir, description.name, layers, trust_remote_code=trust_remote_code
        )
        self.device = resolve_device(device)
        self.dtype = dtype
        check_dtype_runs(dtype, self.device)
        with quiet_transformers():
            self.model: SentenceTransformer = st.SentenceTransformer(
                str(description.folder),
                device="cpu",  # cut (and cast) on the CPU: the dropped layers never take the device's memory
                trust_remote_code=trust_remote_code,
                model_kwargs={"use_safetensors": True},
                local_files_only=True,
            )
        self.model.eval()
        if max_length is not None:
            self.model.max_seq_length = int(max_length)
        self.max_layers: int | None = description.max_layers
        self.auto_model = self._auto_model()
        if description.max_layers is not None and layers < description.max_layers:
            truncate_layers(self.auto_model, layers)
        self.layers: int | None = layers
        self.max_dims = int(self.model.get_embedding_dimension() or description.max_dims or 0)
        self.max_length = self.model.max_seq_length
        self.head = list(self.model)[1:]  # Pooling, Dense, Normalize, ... as saved
        self._include_prompt = all(getattr(m, "include_prompt", True) for m in self.head)
        self._inputs = frozenset(inspect.signature(self.auto_model.forward).parameters)
        self.tokenizer, self.layout = exact_tokenizer(self.model, self._inputs)
        self._mask_4d, no_mask = self._plain_masks()  # proven on the CPU, in float32, before the cast
        if dtype != "float32":
            self.auto_model.to(torch_dtype(dtype))
        self.model.to(self.device)
        accelerated = is_accelerator(self.device)
        self.max_batch_tokens = ACCELERATOR_BATCH_TOKENS if accelerated else CPU_BATCH_TOKENS
        self.min_batch_texts = 1 if accelerated else CPU_MIN_BATCH_TEXTS
        self._cuda = self.device.startswith("cuda")
        self._no_mask = no_mask and self._runs_without_waiting()
        self._prompt_length = PromptLength(self._count_prompt)
        # One encode at a time: the device runs one batch at a time anyway, and a Hugging Face tokenizer must not be
        # called from two threads at once ("Already borrowed").
        self._lock = threading.Lock()

    def activation_bytes(self) -> int:
        """An estimate of the device memory one batch's activations take at most, beside the weights.

        Per padded token: the transformer's widest moment in `dtype` (4 x hidden + 2 x intermediate numbers), the
        pooling's float32 copy of the token embeddings and its product with the mask (2 x hidden x 4 bytes), and
        attention scores or bias at the longest length (heads x max_length x 4 bytes, where the attention kernel
        writes them out); times `max_batch_tokens`. Whatever the number of texts encoded.

        Example:
            >>> engine.activation_bytes() / 2**30  # BERT-large shape, bfloat16, on a GPU  # doctest: +SKIP
            4.0
        """
        config = getattr(self.auto_model, "config", None)
        hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "dim", 0) or self.max_dims)
        intermediate = int(getattr(config, "intermediate_size", 0) or getattr(config, "hidden_dim", 0) or 4 * hidden)
        heads = int(getattr(config, "num_attention_heads", 0) or getattr(config, "n_heads", 0) or 1)
        width = {"float32": 4, "bfloat16": 2, "float16": 2}[self.dtype]
        per_token = width * (4 * hidden + 2 * intermediate) + 4 * 2 * hidden + 4 * heads * int(self.max_length or 512)
        return self.max_batch_tokens * per_token

    def _auto_model(self) -> Any:  # noqa: ANN401 - any torch module
        first = self.model[0]
        auto_model = getattr(first, "auto_model", None) or getattr(first, "model", None)
        if auto_model is None:
            msg = f"Cannot find the transformer inside {type(first).__name__}; load the model without `layers`."
            raise ValueError(msg)
        return auto_model

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
        """Embed `texts` at each (layers, dims) of `cells`, all from one pass per batch, rows in order.

        Args:
            texts: The texts (the prompt not yet put before them).
            prompt: Put before each text ("" for none), pooled or left out as the model's Pooling says.
            cells: (depth, dims) pairs: depth 1..self.layers, dims 1..self.max_dims.
            normalize: Scale each cell's vectors (cut to its dims) to unit length, on the device.
            batch_size: Texts per batch, at most (each batch also holds at most `max_batch_tokens` padded tokens).
            progress: Called with the number of texts of each batch done.

        Returns:
            {(depth, dims): float32 array (len(texts), dims)}.

        Raises:
            ValueError: A depth the model's output cannot be told from (see `LayerTap.check`).
        """
        import torch

        out = {cell: np.empty((len(texts), cell[1]), dtype=np.float32) for cell in cells}
        if not texts:
            return out
        depths = sorted({depth for depth, _ in cells})
        tapped = any(depth != self.layers for depth in depths)
        pending: deque[tuple[Any, Any, npt.NDArray[np.intp]]] = deque()
        worst = None
        with self._lock, torch.inference_mode(), contextlib.ExitStack() as stack:
            tap = stack.enter_context(LayerTap(self.auto_model, depths)) if tapped else None
            batches = stack.enter_context(
                Prefetcher(
                    texts,
                    prompt,
                    self.tokenizer,
                    self.layout,
                    self.max_batch_tokens,
                    batch_size,
                    min_rows=self.min_batch_texts,
                    prompt_tokens=self._prompt_tokens(prompt),
                    pin=self._cuda,
                )
            )
            for batch in batches:
                vectors, error = self._run(batch, depths, cells, normalize, tap)
                if error is not None:
                    worst = error if worst is None else torch.maximum(worst, error)
                pending.append((*self._to_host(vectors), batch.rows))
                while len(pending) > _IN_FLIGHT:
                    self._finish(pending.popleft(), cells, out, progress)
            while pending:
                self._finish(pending.popleft(), cells, out, progress)
            if tap is not None and worst is not None:
                tap.check_error(float(worst))  # once, at the end: never a wait for the device per batch
        return out

    def _run(
        self, batch: Batch, depths: Sequence[int], cells: Sequence[Cell], normalize: bool, tap: LayerTap | None
    ) -> tuple[Any, Any]:
        """Queue one batch on the device: the transformer, pooling and heads, dims, normalisation (no waiting)."""
        import torch

        inputs = {
            k: v.to(self.device, non_blocking=True)
            for k, v in batch.inputs.items()
            if k in self._inputs and k != "attention_mask"
        }
        mask = batch.inputs["attention_mask"].to(self.device, non_blocking=True)
        pool_mask = mask if batch.pool_mask is None else batch.pool_mask.to(self.device, non_blocking=True)
        # A boolean (rows, 1, 1, width) mask where proven at load: transformers takes it as it is, where it would
        # check a 2-D mask's values on the device (a wait per batch). No padding: no mask (flash attention), where
        # proven too.
        unmasked = self._mask_4d and self._no_mask and not batch.padded
        if "attention_mask" in self._inputs and not unmasked:
            inputs["attention_mask"] = mask.bool()[:, None, None, :] if self._mask_4d else mask
        output = self.auto_model(**inputs, return_dict=True).last_hidden_state
        pooled = {}
        for depth in depths:
            tokens = output if tap is None or depth == self.layers else tap.finished(depth)
            features = {"token_embeddings": tokens.float(), "attention_mask": pool_mask}
            for module in self.head:
                features = module(features)
            pooled[depth] = features["sentence_embedding"].float()
        parts = []
        for depth, dims in cells:
            vectors = pooled[depth][:, :dims]
            parts.append(torch.nn.functional.normalize(vectors, p=2.0, dim=1) if normalize else vectors)
        error = tap.error_tensor(output) if tap is not None else None
        return (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]), error

    def _to_host(self, vectors: Any) -> tuple[Any, Any]:  # noqa: ANN401 - tensors
        """Start the one copy of a batch's vectors back to the CPU: (event to wait on, or None; CPU tensor)."""
        import torch

        if self._cuda:
            host = torch.empty(vectors.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(vectors, non_blocking=True)
            event = torch.cuda.Event()  # type: ignore[no-untyped-call]
            event.record()
            return event, host
        return None, vectors.to("cpu")  # the CPU: no copy; another accelerator: a copy that waits

    @staticmethod
    def _finish(
        item: tuple[Any, Any, npt.NDArray[np.intp]],
        cells: Sequence[Cell],
        out: dict[Cell, npt.NDArray[np.float32]],
        progress: Callable[[int], object] | None,
    ) -> None:
        """Wait for a batch's copy (queued a few batches ago) and put its rows in place."""
        event, host, rows = item
        if event is not None:
            event.synchronize()
        array = host.numpy()
        start = 0
        for cell in cells:
            out[cell][rows] = array[:, start : start + cell[1]]
            start += cell[1]
        if progress is not None:
            progress(len(rows))

    def _prompt_tokens(self, prompt: str) -> int:
        """Tokens of the prompt that the pooling leaves out (0 unless the Pooling says include_prompt=False)."""
        return 0 if self._include_prompt else self._prompt_length(prompt)

    def _count_prompt(self, prompt: str) -> int:
        """The prompt's tokens as sentence-transformers' Transformer module counts them."""
        transformer: Any = self.model[0]
        return int(transformer._get_prompt_length(prompt) or 0)

    def _plain_masks(self) -> tuple[bool, bool]:
        """What the transformer gives the 2-D mask's output for: (a (rows, 1, 1, width) boolean mask, no mask).

        Proven on a probe batch on the CPU in float32 (masking does not depend on the device): the boolean mask on
        a padded batch, and no mask on a row without padding, must give the 2-D mask's output (within 1e-6 of its
        scale: the same attention, whatever kernel runs it). Then the engine passes those, and transformers never
        checks the mask's values on the device (a wait per batch). Only for model types whose transformers code
        takes such a mask as it is (no sliding-window attention built from the 2-D mask).
        """
        import torch

        config = getattr(self.auto_model, "config", None)
        if getattr(config, "model_type", None) not in _PLAIN_MASK or "attention_mask" not in self._inputs:
            return False, False
        arrays = assemble(self.tokenizer.tokenize(list(PROBES[:8])), self.layout, 0)
        inputs = {k: torch.from_numpy(v) for k, v in arrays.items() if k in self._inputs}
        full = int(np.argmax(arrays["attention_mask"].sum(axis=1)))  # a row without padding
        row = {k: v[full : full + 1] for k, v in inputs.items()}

        def same(given: dict[str, Any], expected: Any) -> bool:  # noqa: ANN401 - a tensor
            out = self.auto_model(**given, return_dict=True).last_hidden_state
            return bool((out - expected).abs().max() <= 1e-6 * max(1.0, float(expected.abs().max())))

        try:
            with torch.inference_mode():
                two = self.auto_model(**inputs, return_dict=True).last_hidden_state
                ones = self.auto_model(**row, return_dict=True).last_hidden_state
                boolean = same({**inputs, "attention_mask": inputs["attention_mask"].bool()[:, None, None, :]}, two)
                none = same({k: v for k, v in row.items() if k != "attention_mask"}, ones)
        except (RuntimeError, TypeError, ValueError):  # a model that does not take such a mask
            return False, False
        return boolean, boolean and none

    def _runs_without_waiting(self) -> bool:
        """Whether the transformer runs without a mask and never waits for the device (checked on a CUDA device).

        torch's sync debug mode raises on a wait; older transformers look for padding in input_ids without a mask.
        """
        import torch

        if not self._cuda:
            return True
        arrays = assemble(self.tokenizer.tokenize(["a probe"]), self.layout, 0)
        inputs = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items() if k in self._inputs}
        del inputs["attention_mask"]
        with torch.inference_mode():  # the first pass on the device sets its libraries up (not a wait per batch)
            self.auto_model(**inputs, return_dict=True)
        torch.cuda.synchronize(self.device)
        previous = torch.cuda.get_sync_debug_mode()
        try:
            torch.cuda.set_sync_debug_mode("error")
            with torch.inference_mode():
                self.auto_model(**inputs, return_dict=True)
        except RuntimeError:
            return False
        finally:
            torch.cuda.set_sync_debug_mode(previous)
            torch.cuda.synchronize(self.device)
        return True
