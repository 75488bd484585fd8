"""static2d.BatchEncoder on a local Ray instance (2 CPUs): Ray Data's map_batches with an actor pool."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import ray
import ray.cloudpickle
import static2d

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


class CountingEncoder(static2d.BatchEncoder):
    """A BatchEncoder that notes, per actor process, each model load and each batch (with its thread limit)."""

    def __init__(self, *, log_dir: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._log_dir = Path(log_dir)
        from static2d import _encoder

        load_model = _encoder._load
        if not getattr(load_model, "counted", False):  # once per process

            def counted(*args: object, **kw: object) -> object:
                (self._log_dir / f"loads-{os.getpid()}").open("a").write("load\n")
                return load_model(*args, **kw)

            counted.counted = True  # type: ignore[attr-defined]
            _encoder._load = counted  # type: ignore[assignment]

    def __call__(self, batch):  # type: ignore[no-untyped-def]
        out = super().__call__(batch)
        from static2d import _threads

        torch = sys.modules.get("torch")
        torch_threads = torch.get_num_threads() if torch is not None else 0
        line = f"{len(batch['text'])} {_threads.limit()} {torch_threads}\n"
        (self._log_dir / f"batches-{os.getpid()}").open("a").write(line)
        return out


# Ray pickles the class into its actors, which cannot import this test module: send it by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    # Ray's session folder (logs, sockets, spilled objects) in a folder of the run's own, removed afterwards,
    # not /tmp/ray/session_*. Short: Ray puts Unix sockets under it, and a socket path must fit in 107 bytes.
    folder = tempfile.mkdtemp(prefix="s2d-ray-")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, _temp_dir=folder)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


def _run(texts: list[str], log_dir: Path, batch_size: int = 50, concurrency: int = 2, **options: object) -> np.ndarray:
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=8)
    rows = ds.map_batches(
        CountingEncoder,
        fn_constructor_kwargs={"log_dir": str(log_dir), **options},
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        batch_size=batch_size,
        batch_format="numpy",
    ).take_all()
    assert sorted(r["id"] for r in rows) == list(range(len(texts)))
    return np.stack([r["embedding"] for r in sorted(rows, key=lambda r: r["id"])])


def _loads_and_batches(log_dir: Path) -> tuple[dict[str, int], dict[str, list[list[int]]]]:
    loads = {p.name.split("-")[1]: len(p.read_text().splitlines()) for p in log_dir.glob("loads-*")}
    batches = {
        p.name.split("-")[1]: [list(map(int, line.split())) for line in p.read_text().splitlines()]
        for p in log_dir.glob("batches-*")
    }
    return loads, batches


def test_static_model_two_actors_same_vectors_one_load_each(static_model, sentences, tmp_path):
    out = _run(sentences, tmp_path, model=static_model, dims=128)
    np.testing.assert_allclose(out, static2d.load(static_model, dims=128).encode_document(sentences), rtol=0, atol=1e-6)
    loads, batches = _loads_and_batches(tmp_path)
    # An actor loads its model on its first batch (Ray may hand all the batches to one of the two).
    assert 1 <= len(loads) <= 2
    assert str(os.getpid()) not in loads  # actor processes, not the driver
    assert loads == dict.fromkeys(loads, 1)  # each loaded its model once ...
    assert set(batches) == set(loads)
    assert sum(len(b) for b in batches.values()) >= 8  # ... and then embedded every batch it was given with it
    assert sum(n for b in batches.values() for n, _, _ in b) == len(sentences)
    assert {limit for b in batches.values() for _, limit, _ in b} == {1}  # one CPU per actor: one thread


def test_transformer_cut_two_actors_same_vectors(minilm, sentences, tmp_path):
    texts = sentences[:64]
    out = _run(
        texts, tmp_path, batch_size=32, concurrency=1, model=minilm, layers=3, dims=128, kind="query", backend="torch"
    )
    expected = static2d.load(minilm, layers=3, dims=128, backend="torch").encode_query(texts)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    loads, batches = _loads_and_batches(tmp_path)
    assert loads == dict.fromkeys(loads, 1)
    assert set(batches) == set(loads)
    assert {(limit, torch_threads) for b in batches.values() for _, limit, torch_threads in b} == {(1, 1)}


def test_a_bad_option_fails_before_the_job_starts(static_model, tmp_path):
    kwargs = {"model": static_model, "dims": 1024}
    # The check to make in the driver before submitting: the options are checked, nothing is loaded.
    with pytest.raises(ValueError, match=r"dims=1024 is out of range: this model takes dims from 1 to 256"):
        static2d.BatchEncoder(**kwargs)
    # Submitted anyway: each actor fails as it is made, with static2d's message, before any batch is embedded.
    with pytest.raises(Exception, match=r"dims=1024 is out of range: this model takes dims from 1 to 256") as info:
        _run(["a panda"] * 20, tmp_path, **kwargs)
    assert isinstance(info.value, ray.exceptions.ActorDiedError)
    assert "ValueError: dims=1024" in str(info.value)
    assert not list(tmp_path.glob("batches-*"))


def test_a_batch_holding_a_bad_item_fails_with_static2ds_message(static_model, tmp_path):
    texts: list[object] = ["a panda eats bamboo"] * 30
    texts[17] = None
    with pytest.raises(Exception, match=r"TypeError: BatchEncoder: column 'text' must hold text only") as info:
        _run(texts, tmp_path, batch_size=10, concurrency=1, model=static_model)  # type: ignore[arg-type]
    assert isinstance(info.value, ray.exceptions.UserCodeException)
    assert re.search(r"item \d+ is a NoneType \(None\)\. Pass text only\. Drop or fill the rows", str(info.value))


def test_parquet_round_trip_with_a_pandas_batch(static_model, sentences, tmp_path):
    import pandas as pd

    pd.DataFrame({"text": sentences[:100], "id": range(100)}).to_parquet(tmp_path / "in.parquet")
    (
        ray.data.read_parquet(str(tmp_path / "in.parquet"))
        .map_batches(
            static2d.BatchEncoder,
            fn_constructor_kwargs={"model": static_model, "dims": 64},
            compute=ray.data.ActorPoolStrategy(size=1),
            batch_size=32,
            batch_format="pandas",
        )
        .write_parquet(str(tmp_path / "out"))
    )
    out = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "out").glob("*.parquet"))).sort_values("id")
    vectors = np.stack(out["embedding"].to_list())
    assert out["id"].tolist() == list(range(100))
    np.testing.assert_allclose(
        vectors, static2d.load(static_model, dims=64).encode_document(sentences[:100]), atol=1e-6
    )
