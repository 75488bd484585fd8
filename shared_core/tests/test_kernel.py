"""The compiled static kernel (`_static/_kernel.c`) gives the numpy path's vectors bit for bit, and numpy alone works.

The numpy path (STATIC2D_KERNEL=0) is the reference: every test here runs both and compares bytes, on every
tokenizer family of the test kit, the random-Unicode and every-code-point probes, every model2vec table format,
several `dims`, thread counts and call sizes. Both equal the sequential float32 sum model2vec makes. With the
kernel switched off (`nox -s kernel_off`) or not built, the same tests prove the numpy path alone.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import static2d
from static2d import _threads
from static2d._static import kernel
from static2d._static.engine import StaticEngine
from static2d._static.pool import BLOCK_BYTES, kernel_for, mean_rows, pool
from static2d._tokens.ids import Tokens, drop
from static2d_testkit.families import FAMILIES, family_model
from static2d_testkit.multilingual import multilingual_texts
from test_static_exact import _at_spaces, _in_words, _marks_in_words, _random_unicode

BUILT = kernel.native() is not None
needs_kernel = pytest.mark.skipif(not BUILT, reason="the C kernel is not built here (STATIC2D_KERNEL=0 or no compiler)")
TEXTS = [*multilingual_texts(400, seed=5), "", " ", "[UNK]", "word " * 3000, "x" * 5000]


@contextmanager
def kernel_switched(on: bool) -> Iterator[None]:
    """The kernel on (as it is here) or off (STATIC2D_KERNEL=0), for the block."""
    before = os.environ.get("STATIC2D_KERNEL")
    if not on:
        os.environ["STATIC2D_KERNEL"] = "0"
    kernel.native.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("STATIC2D_KERNEL", None)
        else:
            os.environ["STATIC2D_KERNEL"] = before
        kernel.native.cache_clear()


def both(make: Callable[[], npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """`make()` with the kernel, then on numpy."""
    with kernel_switched(True):
        ours = make()
    with kernel_switched(False):
        reference = make()
    return ours, reference


def assert_same_bytes(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> None:
    assert a.dtype == b.dtype == np.float32
    assert a.shape == b.shape
    if a.tobytes() != b.tobytes():
        rows = np.flatnonzero((a != b).any(axis=1))
        pytest.fail(
            f"{rows.size} of {len(a)} vectors differ (first rows {rows[:5].tolist()}), max {np.abs(a - b).max()}"
        )


def sequential_means(
    table: npt.NDArray[np.float32], flat: npt.NDArray[np.intp], slots: npt.NDArray[np.intp], dims: int
):
    """Each text's rows added one after another in float32 (np.add.accumulate is sequential), over its count."""
    out = np.zeros((len(slots), dims), dtype=np.float32)
    starts = np.cumsum(slots) - slots
    for i, (s, k) in enumerate(zip(starts.tolist(), slots.tolist(), strict=True)):
        if k:
            out[i] = np.add.accumulate(table[flat[s : s + k], :dims], axis=0)[-1] / np.float32(k)
    return out


def test_the_kernel_is_built_where_a_c_compiler_is() -> None:
    """An install from the checkout with a C compiler compiles it (setup.py): else the fast path is silently lost."""
    if os.environ.get("STATIC2D_KERNEL") == "0":
        pytest.skip("switched off by STATIC2D_KERNEL=0")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) here")
    assert BUILT, "a C compiler is here but static2d._static._kernel is not built: reinstall shared_core"
    assert kernel.name() == "C"


@pytest.mark.parametrize("columns", [1, 3, 8, 64, 256])
@pytest.mark.parametrize("threads", [1, 2])
def test_pool_is_the_sequential_float32_sum_on_both_paths(columns: int, threads: int) -> None:
    rng = np.random.default_rng(columns)
    # rows of very different sizes, so the order of the additions shows in the last bits
    table = rng.standard_normal((700, columns)).astype(np.float32) * rng.uniform(1e-3, 1e3, (700, 1)).astype(np.float32)
    block = BLOCK_BYTES // (4 * columns)
    slots = rng.integers(0, 30, 400)
    slots[[3, 9, 11]] = [block + 1, 2 * block + 5, 40_000]  # texts longer than numpy's block
    flat = rng.integers(0, 700, int(slots.sum())).astype(np.intp)
    for dims in sorted({1, max(1, columns // 2), columns}):
        expected = sequential_means(table, flat, slots, dims)
        ours, reference = both(lambda dims=dims: pool(table, flat, slots, dims, threads))
        assert_same_bytes(reference, expected)
        assert_same_bytes(ours, expected)
        for i in (3, 9, 11, 20):  # one text alone
            ids = flat[int(slots[:i].sum()) : int(slots[: i + 1].sum())]
            one, one_reference = both(lambda ids=ids, dims=dims: mean_rows(table, ids, dims))
            assert_same_bytes(one[None], expected[i][None])
            assert_same_bytes(one_reference[None], expected[i][None])


@pytest.mark.parametrize("threads", [1, 2])
def test_a_skipped_token_is_left_out_as_if_dropped_first(threads: int) -> None:
    """`pool(skip=)` (model2vec's unknown token): the means of the ids without it, on both paths, bit for bit."""
    rng = np.random.default_rng(7)
    table = rng.standard_normal((300, 64)).astype(np.float32) * rng.uniform(1e-3, 1e3, (300, 1)).astype(np.float32)
    slots = rng.integers(0, 40, 2000)
    slots[[5, 6]] = [20_000, 3]
    flat = rng.integers(0, 300, int(slots.sum())).astype(np.intp)
    flat[rng.random(flat.size) < 0.2] = 17  # the token to leave out, often
    flat[int(slots[:6].sum()) : int(slots[:7].sum())] = 17  # a text of that token only: zeros
    kept = drop(Tokens(flat, slots), 17)
    expected = sequential_means(table, kept.ids, kept.lengths, 64)
    ours, reference = both(lambda: pool(table, flat, slots, 64, threads, skip=17))
    assert_same_bytes(reference, expected)
    assert_same_bytes(ours, expected)
    assert not expected[6].any()


@needs_kernel
def test_the_kernel_reads_a_memory_map_and_falls_back_for_what_it_cannot_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    table = rng.standard_normal((50, 16)).astype(np.float32)
    path = tmp_path / "t.npy"
    np.save(path, table)
    mapped = np.load(path, mmap_mode="r")
    slots = np.array([3, 0, 5])
    flat = rng.integers(0, 50, 8).astype(np.intp)
    expected = sequential_means(table, flat, slots, 16)
    assert kernel_for(mapped) is not None
    assert_same_bytes(pool(mapped, flat, slots, 16), expected)
    # a strided view and a float64 table are not the kernel's: numpy pools them, the same sums
    strided = np.repeat(table, 2, axis=1)[:, ::2]
    assert kernel_for(strided) is None
    assert_same_bytes(pool(strided, flat, slots, 16), expected)
    assert kernel_for(table.astype(np.float64)) is None  # type: ignore[arg-type]


@needs_kernel
def test_a_fault_is_an_error_never_a_wrong_vector() -> None:
    native = kernel.native()
    table = np.ones((10, 4), dtype=np.float32)
    out = np.zeros((2, 4), dtype=np.float32)
    ids, slots = np.array([1, 2, 3], dtype=np.int64), np.array([1, 2], dtype=np.int64)
    with pytest.raises(IndexError, match="token id 10 is outside the table's 10 rows"):
        native.pool(table, np.array([1, 10, 3], dtype=np.int64), slots, 4, out)
    with pytest.raises(IndexError, match="token id -1"):
        native.pool(table, np.array([1, -1, 3], dtype=np.int64), slots, 4, out)
    with pytest.raises(ValueError, match="slots do not add up"):
        native.pool(table, ids, np.array([1, 1], dtype=np.int64), 4, out)
    with pytest.raises(ValueError, match="slots do not fit"):
        native.pool(table, ids, np.array([5, -2], dtype=np.int64), 4, out)
    with pytest.raises(ValueError, match="dims"):
        native.pool(table, ids, slots, 5, out)
    with pytest.raises(TypeError, match="float32"):
        native.pool(table.astype(np.float64), ids, slots, 4, out)
    with pytest.raises(TypeError, match="int64"):
        native.pool(table, ids.astype(np.int32), slots, 4, out)
    with pytest.raises((TypeError, ValueError, BufferError)):
        native.pool(table, ids, slots, 4, out[:, ::2].copy().T)  # not (texts, dims)
    with pytest.raises((TypeError, ValueError, BufferError)):
        native.pool(table, ids, slots, 4, np.zeros((2, 4), dtype=np.float32)[:, :4].T)  # not C-contiguous
    read_only = np.zeros((2, 4), dtype=np.float32)
    read_only.flags.writeable = False
    with pytest.raises((TypeError, ValueError, BufferError)):
        native.pool(table, ids, slots, 4, read_only)


def _engine(path: Path) -> StaticEngine:
    engine = static2d.load(path, normalize=False)._get().engine
    assert isinstance(engine, StaticEngine)
    return engine


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, family_model(request.param)


def test_every_family_every_probe_pools_to_the_same_bytes(family: tuple[str, Path]) -> None:
    """Tokenized once; pooled by the kernel and by numpy at several dims and threads: the same bytes."""
    _, path = family
    engine = _engine(path)
    texts = TEXTS + _random_unicode(1500, seed=4) + _in_words()[::7] + _at_spaces()[::7]
    tokens = engine.tokenize(texts)
    flat, slots = tokens.ids, tokens.lengths
    assert flat.size > 2 << 14  # enough tokens for the pooling to be split between threads (pool._PARALLEL_TOKENS)
    for dims, threads in [(32, 1), (32, 2), (7, 2), (1, 1)]:
        ours, reference = both(lambda dims=dims, threads=threads: engine.pool(tokens, dims, threads))
        assert_same_bytes(ours, reference)
        assert_same_bytes(reference[:300], sequential_means(engine.table, flat, slots, dims)[:300])


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
def test_end_to_end_the_same_bytes_whatever_the_call_size_and_threads(fmt: str) -> None:
    path = family_model("unigram-nfkc", fmt)  # type: ignore[arg-type]
    texts = TEXTS + _random_unicode(300, seed=8)
    before = _threads.limit()
    try:
        for threads in (1, 2):
            _threads.set_limit(threads)
            for dims in (32, 5):
                encoder = static2d.load(path, dims=dims)
                ours, reference = both(lambda encoder=encoder: encoder.encode(texts))
                assert_same_bytes(ours, reference)
                for size in (1, 10, 100):  # calls of a few texts
                    part, part_reference = both(
                        lambda encoder=encoder, size=size: np.concatenate(
                            [encoder.encode(texts[i : i + size]) for i in range(0, 200, size)]
                        )
                    )
                    assert_same_bytes(part, part_reference)
                    assert_same_bytes(part, ours[:200])
    finally:
        _threads.set_limit(before)


@pytest.mark.parametrize(
    ("dtype", "mapping", "weights"),
    [("int8", False, True), ("float16", True, False), ("float32", True, True), ("float64", False, False)],
)
def test_every_model2vec_table_format_the_same_bytes(tmp_path: Path, dtype: str, mapping: bool, weights: bool) -> None:
    from model2vec import StaticModel
    from model2vec.quantization import DType, quantize_embeddings
    from static2d_testkit.families import train_tokenizer

    tokenizer = train_tokenizer("wordpiece-uncased")
    vocab = tokenizer.get_vocab_size()  # type: ignore[attr-defined]
    rng = np.random.default_rng(3)
    rows = 300 if mapping else vocab
    StaticModel(
        vectors=quantize_embeddings(rng.standard_normal((rows, 24)).astype(np.float32), DType(dtype)),
        tokenizer=tokenizer,
        normalize=False,
        weights=rng.uniform(0.1, 2.0, vocab).astype(np.float32) if weights else None,
        token_mapping=rng.integers(0, rows, vocab) if mapping else None,
    ).save_pretrained(str(tmp_path / "m"))
    for dims in (24, 10):
        encoder = static2d.load(tmp_path / "m", dims=dims, normalize=False)
        assert (kernel_for(encoder._get().engine.table) is not None) == BUILT  # type: ignore[attr-defined]
        ours, reference = both(lambda encoder=encoder: encoder.encode(TEXTS))
        assert_same_bytes(ours, reference)
        assert np.abs(ours).max() > 0


def test_distilled_minilm_the_same_bytes_as_model2vec() -> None:
    """English WordPiece (the distilled MiniLM): kernel, numpy and model2vec (on the float32 table) the same bytes."""
    from model2vec import StaticModel
    from static2d_testkit import distilled_static_model

    path = distilled_static_model("model2vec")
    texts = multilingual_texts(300, seed=9, english=0.9)
    encoder = static2d.load(path, normalize=False)
    ours, reference = both(lambda: encoder.encode(texts))
    assert_same_bytes(ours, reference)
    model = StaticModel.from_pretrained(str(path), normalize=False)
    model.embedding = model.embedding.astype(np.float32)  # stored float16: model2vec would sum in float16
    assert_same_bytes(ours, np.asarray(model.encode(texts)))


def test_describe_names_the_kernel_and_the_fingerprint_ignores_it() -> None:
    path = family_model("wordlevel")
    with kernel_switched(False):
        off = static2d.load(path).describe()
    assert off["kernel"] == "numpy"
    with kernel_switched(True):
        on = static2d.load(path).describe()
    assert on["kernel"] == ("C" if BUILT else "numpy")
    assert on["fingerprint"] == off["fingerprint"]


def test_switched_off_the_static_path_runs_on_numpy() -> None:
    path = family_model("byte-bpe")
    with kernel_switched(False):
        assert kernel.native() is None
        assert kernel.name() == "numpy"
        static2d.clear_cache()  # an engine made without the kernel, as where none is built
        encoder = static2d.load(path, normalize=False)
        vectors = encoder.encode(TEXTS)
        engine = encoder._get().engine
        assert isinstance(engine, StaticEngine)
        assert engine.kernel == "numpy"
        assert engine.tokenizer_path == "tokie + word cache"  # no compiled table: tokie is ahead on ASCII text
        tokens = engine.tokenize(TEXTS)
        flat, slots = tokens.ids, tokens.lengths
    assert_same_bytes(vectors, sequential_means(engine.table, flat, slots, engine.max_dims))
    if kernel.native() is not None:  # with it, the word cache takes every text, with the same vectors
        assert engine.tokenizer_path == "word cache + tokie"
        assert_same_bytes(encoder.encode(TEXTS), vectors)


@needs_kernel
def test_the_table_of_pieces_finds_each_piece_by_its_bytes() -> None:
    native = kernel.native()
    table = native.Pieces()
    words = [f"w{i}" for i in range(20_000)] + ["", "é", "e\u0301", "日本語", "x" * 100, "x" * 99 + "y"]
    nothing = np.zeros(0, np.int64).tobytes()
    pending = np.array([0, 1], np.int64).tobytes()  # both texts have a piece not found: no ids for them
    found = table.look_up(["w1 w2", "é"], True)
    assert found == (nothing, bytes(16), nothing, pending, ["w1", "w2", "é"], [False, False, False])
    ids = np.arange(len(words), dtype=np.int64) * 3
    lengths = np.ones(len(words), dtype=np.int64)
    assert table.insert(words, [False] * len(words), ids, lengths, [w == "é" for w in words], 1 << 19) is False
    assert len(table) == len(words)
    flat, slots, whole, pending, missed, _ = table.look_up(
        [" ".join(words[:5]), "x" * 100, "日本語 " + "x" * 99 + "y", "é w3"], True
    )
    assert (pending, missed) == (nothing, [])
    assert np.frombuffer(flat, np.int64).tolist() == [0, 3, 6, 9, 12, ids[-2], ids[-3], ids[-1]]
    assert np.frombuffer(slots, np.int64).tolist() == [5, 1, 2, 0]  # a text with an unsafe piece: no ids here
    assert np.frombuffer(whole, np.int64).tolist() == [3]
    # the first piece of a text is its own key where it is not uniform; "xx" is not "x" + "x"
    assert table.look_up(["w1 w2"], False)[3:] == (bytes(8), ["w1"], [True])
    # each piece not found is handed back once (a first piece of a text is a key of its own where not uniform)
    assert table.look_up(["q r q", "r", "Ωq Ωq"], True)[4:] == (["q", "r", "Ωq"], [False, False, False])
    assert table.look_up(["q q", "q"], False)[4:] == (["q", "q"], [True, False])
    # only the text with a piece not found is pending; the other gets its ids in the same pass
    flat, slots, _, pending, missed, firsts = table.look_up(["x" * 101, "w1  w2"], True)
    assert (pending, missed, firsts) == (bytes(8), ["x" * 101], [False])
    assert np.frombuffer(flat, np.int64).tolist() == [3, ids[-6], 6]
    assert np.frombuffer(slots, np.int64).tolist() == [0, 3]
    flat, slots, *_ = table.look_up(["w1  w2 "], True)  # empty pieces: between two spaces and at the end
    assert np.frombuffer(flat, np.int64).tolist() == [3, ids[-6], 6, ids[-6]]
    # past the limit the table starts afresh, then holds that call's pieces
    assert table.insert(["new"], [False], np.array([7], dtype=np.int64), np.array([1], dtype=np.int64), [False], 10)
    assert len(table) == 1
    assert table.look_up(["new"], True)[0] == np.array([7], dtype=np.int64).tobytes()
    with pytest.raises(ValueError, match="lengths do not add up"):
        table.insert(["a"], [False], np.array([1, 2], dtype=np.int64), np.array([1], dtype=np.int64), [False], 10)
    with pytest.raises(UnicodeEncodeError):
        table.look_up(["a \ud800"], True)  # not UTF-8: the word cache's dictionaries serve such a text


@needs_kernel
def test_threads_reading_while_others_insert_see_whole_entries() -> None:
    """Readers with the GIL released while writers grow the table: every hit has exactly its own ids."""
    import threading

    table = kernel.native().Pieces()
    errors: list[str] = []

    def writer(offset: int) -> None:
        for start in range(0, 20_000, 500):
            words = [f"p{offset + i}" for i in range(start, start + 500)]
            numbers = np.array([offset + i for i in range(start, start + 500)], dtype=np.int64)
            ids = np.repeat(numbers, 2)
            table.insert(words, [False] * 500, ids, np.full(500, 2, dtype=np.int64), [False] * 500, 1 << 30)

    def reader() -> None:
        for _ in range(200):
            probe = [f"p{i}" for i in range(0, 40_000, 97)]
            found = table.look_up([" ".join(probe)], True)
            if found[3]:  # a piece not inserted yet
                continue
            flat = np.frombuffer(found[0], np.int64)
            expected = np.repeat([int(w[1:]) for w in probe], 2)
            if not np.array_equal(flat, expected):
                errors.append("a reader saw other ids")

    threads = [threading.Thread(target=writer, args=(k * 20_000,)) for k in range(2)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(table) == 40_000
    found = table.look_up([" ".join(f"p{i}" for i in range(40_000))], True)
    assert np.array_equal(np.frombuffer(found[0], np.int64), np.repeat(np.arange(40_000), 2))


@needs_kernel
def test_text_that_is_not_utf8_goes_the_dictionaries_way() -> None:
    engine = _engine(family_model("wordlevel"))
    cache = engine._cache
    assert cache is not None
    texts = ["plain words here", "a lone \ud800 surrogate"]
    with kernel_switched(True):
        assert cache._tokenize_native(texts[:1]) is not None
        assert cache._tokenize_native(texts) is None


@needs_kernel
def test_the_kernel_picks_tokies_texts_as_accepted_does() -> None:
    """`printable_ascii` (which texts go to tokie) says what `accepted` says, on every code point and the probes."""
    from static2d._tokens.exact import probe_texts
    from static2d._tokens.tokie import accepted

    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = [
        *every,
        *(f"plain words {c} and more" for c in every[::7]),
        *probe_texts(64),
        *multilingual_texts(2000, seed=3),
        "",
        " ",
        "~" * 1000,
        "x\x7f",
        "\x1fx",
        "a\ud800b",  # a lone surrogate: not ASCII
        "Straße" * 10,
    ]
    mask = np.frombuffer(kernel.native().printable_ascii(texts), dtype=np.bool_)
    expected = np.fromiter(map(accepted, texts), dtype=np.bool_, count=len(texts))
    assert np.array_equal(mask, expected)
    assert 0 < mask.sum() < len(texts)  # both kinds are there
    assert kernel.native().printable_ascii([1, None, b"abc"]) == bytes(3)  # not text: never tokie's


@needs_kernel
def test_longest_in_the_kernel_as_in_python() -> None:
    """`longest` (the character cap's check) answers alike with the kernel and without it."""

    class Text(str):
        """A str subclass: not a str to the check (`type(t) is str`), as before the kernel."""

    cases = [
        [],
        [""],
        ["a", "abc", ""],
        multilingual_texts(500, seed=5),
        ["x" * 100_000, "y"],
        ["a", b"b", "c"],
        ["a", "b", 3],
        [None],
        ["a", Text("b")],
        ("tuple", "of", "texts"),
    ]
    with kernel_switched(True):
        with_kernel = [kernel.longest(c) for c in cases]
    with kernel_switched(False):
        without = [kernel.longest(c) for c in cases]
    assert with_kernel == without
    assert with_kernel[:3] == [0, 0, 3]
    assert with_kernel[4] == 100_000
    assert with_kernel[5:9] == [-2, -3, -1, -2]


@needs_kernel
def test_the_kernel_refuses_the_pieces_python_refuses(family: tuple[str, Path]) -> None:
    """The word cache's checks of new pieces: the kernel's answer is Python's, and it answers most of them."""
    engine = _engine(family[1])
    cache = engine._cache
    if cache is None:
        pytest.skip("no word cache for this tokenizer")
    texts = [*_in_words(), *_at_spaces(), *_marks_in_words(), *_random_unicode(300, seed=11), *TEXTS]
    pieces = list(dict.fromkeys(" ".join(texts).split(" ")))
    with kernel_switched(False):  # Python alone, judging every character it meets
        expected = [bool(v) for v in cache._refusals(pieces)]
    with kernel_switched(True):
        assert [bool(v) for v in cache._refusals(pieces)] == expected
    assert 0 < sum(expected) < len(pieces)  # both answers are there
    # on running text (other words, the same scripts) the kernel answers nearly every new piece itself
    ordinary = list(dict.fromkeys(" ".join(multilingual_texts(3000, seed=12)).split(" ")))
    with kernel_switched(True):
        answered = sum(v != 2 for v in cache._kernel_refusals(ordinary))
    assert answered > 0.9 * len(ordinary), f"the kernel answered {answered} of {len(ordinary)} pieces"
