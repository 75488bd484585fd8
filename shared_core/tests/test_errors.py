"""What a newcomer meets first: each error is one clear message, printed once, naming the fix.

The default model offline, a transformer without the extra, another embedder's option name.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest
import static2d
from conftest import REPO
from huggingface_hub.errors import LocalEntryNotFoundError
from packaging.requirements import Requirement
from static2d import _extras
from static2d._extras import install_hint
from static2d._options import OPTIONS
from static2d._peers import PEER_OPTIONS, peer_option_message, suggest, unknown_option_message
from static2d_testkit import bert_files
from static2d_testkit.printed import peer_name_problems, run_python

OFFLINE = (
    "OSError: Model 'sentence-transformers/static-retrieval-mrl-en-v1' is not in the local cache (the default "
    "Hugging Face cache) and cannot be downloaded (HF_HUB_OFFLINE is set). Download it once with network access "
    "(unset HF_HUB_OFFLINE / local_files_only), or pass the path of a local directory holding the model."
)
NO_EXTRA = (
    "ImportError: This model is a transformer; running it needs torch and sentence-transformers, which are not "
    "installed. Install the extra: pip install 'static2d-core[transformers]' (static models need neither)."
)
CORE_OPTIONS = [option.name for option in OPTIONS]


def test_the_default_model_offline_is_one_message(tmp_path: Path) -> None:
    printed = run_python("import static2d; static2d.load(static2d.DEFAULT_MODEL)", home=tmp_path)
    assert printed.returncode == 1
    assert printed.tracebacks == 1, printed.stderr  # no chain from inside huggingface_hub
    assert printed.last_line == OFFLINE


def test_the_hub_error_stays_reachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="not in the local cache") as info:
        static2d.load(static2d.DEFAULT_MODEL, cache_folder=tmp_path)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert isinstance(info.value.__context__, LocalEntryNotFoundError)


def test_a_transformer_without_the_extra_is_one_message(tmp_path: Path) -> None:
    model = bert_files(tmp_path / "bert")
    # sys.modules[name] = None: an import of it fails as if it were not installed
    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        f"import static2d; static2d.load({str(model)!r}, backend='torch')"
    )
    printed = run_python(code, home=tmp_path, env={"STATIC2D_ONNX_CACHE": str(tmp_path / "onnx")})
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == NO_EXTRA


@pytest.mark.parametrize(
    ("name", "value", "use"),
    [
        ("model_kwargs", {"device": "cuda"}, "use the static2d option device='cuda' instead."),
        ("encode_kwargs", {"normalize_embeddings": True}, "use the static2d option normalize=True instead."),
        ("truncate_dim", 128, "use the static2d option dims=128 instead."),
        ("model_name", "org/model", "use the static2d option model='org/model' instead."),
        ("model_name_or_path", "org/model", "use the static2d option model='org/model' instead."),
        ("normalize_embeddings", False, "use the static2d option normalize=False instead."),
        ("query_instruction", "query: ", "use the static2d option query_prompt='query: ' instead."),
        ("text_instruction", "passage: ", "use the static2d option document_prompt='passage: ' instead."),
        ("cache_dir", "/models", "use the static2d option cache_folder='/models' instead."),
        ("max_seq_length", 128, "use the static2d option max_length=128 instead."),
        ("embed_batch_size", 64, "use the static2d option batch_size=64 instead."),
        ("use_auth_token", "hf_x", "use the static2d option token=<your token> instead."),  # never its value
        (
            "prompts",
            {"query": "query: ", "passage": "passage: "},
            "use the static2d options query_prompt='query: ', document_prompt='passage: ' instead.",
        ),
        ("query_encode_kwargs", {"prompt": "q: "}, "use the static2d option query_prompt='q: ' instead."),
        (
            "model_kwargs",
            {"device": "cuda:1", "trust_remote_code": True, "revision": "v2", "model_kwargs": {"attn": "sdpa"}},
            "use the static2d options device='cuda:1', trust_remote_code=True, revision='v2' instead. attn: no "
            "static2d equivalent; leave it out.",
        ),
        (
            "encode_kwargs",
            {"batch_size": 64, "precision": "int8", "convert_to_tensor": True},
            "use the static2d options batch_size=64, precision='int8' instead. convert_to_tensor: no static2d "
            "equivalent; leave it out.",
        ),
        ("tokenizer_kwargs", {"model_max_length": 256}, "use the static2d option max_length=256 instead."),
    ],
)
def test_a_peer_option_names_the_static2d_option(name: str, value: object, use: str) -> None:
    msg = peer_option_message("Encoder", name, value, CORE_OPTIONS)
    assert msg is not None
    assert msg.startswith(f"Encoder has no option {name!r} (an option of {PEER_OPTIONS[name].origin}): ")
    assert msg.endswith(use)


def test_a_peer_option_without_an_equivalent_says_why() -> None:
    msg = peer_option_message("Static2DEmbeddings", "multi_process", True, [*CORE_OPTIONS, "show_progress_bar"])
    assert msg == (
        "Static2DEmbeddings has no option 'multi_process' (an option of LangChain's HuggingFaceEmbeddings): static2d "
        "embeds in one process: a static model embeds tens of thousands of texts a second on one CPU core, and a "
        "transformer runs on every core (or on `device`). To spread a large corpus over processes or machines, use "
        "static2d.BatchEncoder with Ray Data or pandas."
    )
    msg = peer_option_message("Encoder", "config_kwargs", {"output_hidden_states": True}, ["dims", "model"])
    assert msg == (
        "Encoder has no option 'config_kwargs' (an option of Haystack's SentenceTransformers embedders): "
        "output_hidden_states has no static2d equivalent; leave config_kwargs out (static2d's options: dims, model)."
    )
    # suggested only where the adapter takes it: show_progress_bar is an adapter's option, not the core's
    msg = peer_option_message("Encoder", "show_progress", True, CORE_OPTIONS)
    assert msg == (
        "Encoder has no option 'show_progress' (an option of LangChain's HuggingFaceEmbeddings), and static2d has no "
        "show_progress_bar option here; leave it out."
    )


def test_names_the_adapter_takes_are_not_refused() -> None:
    assert peer_option_message("Static2DEmbedding", "embed_batch_size", 10, ["embed_batch_size"]) is None
    assert peer_option_message("Static2DTextEmbedder", "prefix", "q: ", ["prefix"]) is None
    assert peer_option_message("Encoder", "dims", 64, CORE_OPTIONS) is None
    assert peer_option_message("Encoder", "not_an_option", 1, CORE_OPTIONS) is None
    assert not set(PEER_OPTIONS) & set(CORE_OPTIONS)  # a peer's name is never one of static2d's own


def test_an_adapter_spells_the_value_its_own_way() -> None:
    spell = {"device": lambda value: f"ComponentDevice.from_str({value!r})"}
    msg = peer_option_message("Static2DTextEmbedder", "model_kwargs", {"device": "cuda:1"}, CORE_OPTIONS, spell=spell)
    assert msg is not None
    assert msg.endswith("use the static2d option device=ComponentDevice.from_str('cuda:1') instead.")
    msg = peer_option_message("Encoder", "model_kwargs", {"token": "hf_NotShown", "device": "cpu"}, CORE_OPTIONS)
    assert msg is not None
    assert "hf_NotShown" not in msg
    assert msg.endswith("use the static2d options token=<your token>, device='cpu' instead.")


# ------------------------------------------------------------------------------------- unknown option names


LOAD_OPTIONS = ", ".join([*CORE_OPTIONS, "lazy"])


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("dimension", "dims=256"),  # an alias
        ("num_layers", "layers=256"),
        ("n_layers", "layers=256"),
        ("depth", "layers=256"),
        ("normalise", "normalize=256"),  # a close spelling (difflib)
        ("batchsize", "batch_size=256"),
        ("Batch-Size", "batch_size=256"),
    ],
)
def test_an_unknown_option_of_load_gets_the_closest_one(name: str, meant: str) -> None:
    with pytest.raises(TypeError) as info:
        static2d.load("any/model", lazy=True, **{name: 256})
    assert str(info.value) == (
        f"static2d.load has no option {name!r}: did you mean {meant}? Its options: {LOAD_OPTIONS}."
    )


def test_an_unknown_option_is_one_message_the_user_reads(tmp_path: Path) -> None:
    printed = run_python("import static2d; static2d.load(static2d.DEFAULT_MODEL, dim=256)", home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == (
        "TypeError: static2d.load has no option 'dim' (an option of other embedders): use the static2d option "
        "dims=256 instead."
    )


def test_a_name_close_to_nothing_lists_the_options() -> None:
    with pytest.raises(TypeError) as info:
        static2d.load("any/model", lazy=True, colour="blue")
    assert str(info.value) == f"static2d.load has no option 'colour'. Its options: {LOAD_OPTIONS}."
    # the signature stays load's own (the docs and the adapters' tests read it)
    assert "colour" not in inspect.signature(static2d.load).parameters
    assert list(inspect.signature(static2d.load).parameters) == [*CORE_OPTIONS, "lazy"]


def test_suggest_reads_aliases_peers_and_spellings() -> None:
    assert suggest("dim", CORE_OPTIONS) == ("dims",)  # another embedder's name
    assert suggest("truncate_dim", CORE_OPTIONS) == ("dims",)
    assert suggest("prompts", CORE_OPTIONS) == ("query_prompt", "document_prompt")
    assert suggest("num_layers", CORE_OPTIONS) == ("layers",)
    assert suggest("num_layers", ["dims"]) == ()  # an alias only names an option the caller takes
    assert suggest("cache-folder", CORE_OPTIONS) == ("cache_folder",)
    assert suggest("xyz", CORE_OPTIONS) == ()
    # without a value (the command line), the suggestion is the name alone
    assert unknown_option_message("tool", "dimension", ["dims"]) == (
        "tool has no option 'dimension': did you mean dims? Its options: dims."
    )


def test_prompts_names_the_prompt_options() -> None:
    """sentence-transformers' prompts, given as one string (or an empty dict), names query_prompt and
    document_prompt: static2d takes them (it used to say it had no such options)."""
    for value in ("query: ", {}):
        with pytest.raises(TypeError) as info:
            static2d.load("any/model", lazy=True, prompts=value)
        assert str(info.value) == (
            "static2d.load has no option 'prompts' (an option of sentence-transformers): use the static2d options "
            "query_prompt, document_prompt instead."
        )


def test_quantization_ranges_names_precision() -> None:
    with pytest.raises(TypeError) as info:
        static2d.load("any/model", lazy=True, quantization_ranges=[[-1.0, 1.0]])
    assert str(info.value) == (
        f"static2d.load has no option 'quantization_ranges' (an option of {PEER_OPTIONS['quantization_ranges'].origin}"
        "): use the static2d option precision instead: precision='int8' or 'uint8' quantizes as "
        "sentence-transformers' quantize_embeddings does, with each dimension's range fixed per model and settings "
        "from static2d's calibration text (never by the batch), so there are no ranges to pass."
    )


def test_every_peer_name_suggests_an_option_of_load() -> None:
    assert (
        peer_name_problems(
            lambda **kw: static2d.load("any/model", lazy=True, **kw), "static2d.load", [*CORE_OPTIONS, "lazy"]
        )
        == []
    )


def test_every_peer_table_option_is_a_static2d_option() -> None:
    adapters_own = {"show_progress_bar"}  # every adapter's, not load's
    for name, peer in PEER_OPTIONS.items():
        assert set(peer.use) <= {*CORE_OPTIONS, *adapters_own}, name


# ------------------------------------------------------------------------------------- a missing local folder


def test_a_missing_folder_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="names no folder") as info:
        static2d.load("./models/my-model")
    assert str(info.value) == (
        f"model='./models/my-model' names no folder: there is no {tmp_path / 'models' / 'my-model'} "
        f"({tmp_path / 'models'} exists, but holds no 'my-model'); a relative path is read from the working "
        f"directory, {tmp_path}. Check the path, or pass the path of the folder that holds the model's files "
        "(config.json, modules.json, model.safetensors, ...), or a Hugging Face hub id ('owner/name')."
    )
    with pytest.raises(ValueError, match=r"names no folder: there is no /no/such/models/x \(the nearest folder"):
        static2d.load("/no/such/models/x")
    with pytest.raises(ValueError, match=rf"there is no {tmp_path / 'a' / 'b' / 'c'} \(the nearest folder that"):
        static2d.load("a/b/c", lazy=True)  # three parts: never a hub id


def test_owner_slash_name_beside_such_a_folder_is_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'models/my-model' could be a hub id: the hub is asked, then the missing folder is the answer, not the cache."""
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="names no folder") as info:
        static2d.load("models/my-model", cache_folder=tmp_path / "hf")
    message = str(info.value)
    assert message.startswith(
        f"model='models/my-model' names no folder: there is no {tmp_path / 'models' / 'my-model'} "
        f"({tmp_path / 'models'} exists, but holds no 'my-model'); a relative path is read from the working directory"
    )
    assert "As a Hugging Face hub id, it fails too: Model 'models/my-model' is not in the local cache" in message
    # without a ./owner folder, an 'owner/name' is a hub id, and its message is the hub's
    with pytest.raises(OSError, match=r"^Model 'someone/my-model' is not in the local cache"):
        static2d.load("someone/my-model", cache_folder=tmp_path / "hf")


def test_a_missing_folder_is_one_message_the_user_reads(tmp_path: Path) -> None:
    printed = run_python("import static2d; static2d.load('./models/my-model')", home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line.startswith("ValueError: model='./models/my-model' names no folder: there is no /")


# ----------------------------------------------------------------------- the missing-torch message, CPU only

CPU_TORCH = (
    " --extra-index-url https://download.pytorch.org/whl/cpu (no NVIDIA GPU is visible here: that index gives "
    "torch's CPU build, not PyPI's CUDA build with several GB of NVIDIA libraries; pip keeps a torch already installed)"
)


@pytest.mark.skipif(sys.platform != "linux", reason="PyPI's torch is the CUDA build on Linux only")
def test_without_a_gpu_the_missing_torch_message_installs_the_cpu_build(tmp_path: Path) -> None:
    model = bert_files(tmp_path / "bert")
    code = (
        "import sys; sys.modules['sentence_transformers'] = None; sys.modules['torch'] = None\n"
        "import static2d._extras; static2d._extras.gpu_visible = lambda: False  # a CPU-only machine\n"
        f"import static2d; static2d.load({str(model)!r}, backend='torch')"
    )
    printed = run_python(code, home=tmp_path, env={"STATIC2D_ONNX_CACHE": str(tmp_path / "onnx")})
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == NO_EXTRA.replace(
        "pip install 'static2d-core[transformers]'", f"pip install 'static2d-core[transformers]'{CPU_TORCH}"
    )


def test_the_cpu_build_is_offered_only_where_it_is_what_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = "pip install 'static2d-core[transformers]'"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "torch", None)  # torch not installed
    monkeypatch.setattr(_extras, "gpu_visible", lambda: False)
    assert install_hint("transformers") == plain + CPU_TORCH
    assert install_hint("onnx-export").endswith(CPU_TORCH)  # it installs torch too
    assert install_hint("onnx") == "pip install 'static2d-core[onnx]'"  # no torch in it
    monkeypatch.setattr(_extras, "gpu_visible", lambda: True)
    assert install_hint("transformers") == plain  # a GPU: PyPI's CUDA build is the one wanted
    monkeypatch.setattr(_extras, "gpu_visible", lambda: False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert install_hint("transformers") == plain  # PyPI's torch for macOS is the CPU build
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delitem(sys.modules, "torch")
    assert install_hint("transformers") == plain  # torch installed (this venv's): pip keeps it


def test_a_gpu_is_seen_by_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _extras.gpu_visible()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert _extras.gpu_visible() == Path("/proc/driver/nvidia").exists()


def test_the_extras_never_pull_a_newer_torch_over_an_installed_one() -> None:
    """A floor only (`torch>=2.1`): pip keeps an installed torch (the CPU build) that meets it, and no upper bound
    breaks a user's newer torch."""
    pyproject = (REPO / "shared_core" / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    for extra in _extras.TORCH_EXTRAS:
        listed = re.search(rf"^{extra} = \[(.*)\]$", pyproject, flags=re.M)
        assert listed is not None, extra
        torch = [Requirement(r) for r in re.findall(r'"([^"]+)"', listed[1]) if Requirement(r).name == "torch"]
        assert len(torch) == 1, extra
        assert [s.operator for s in torch[0].specifier] == [">="], (extra, str(torch[0]))
