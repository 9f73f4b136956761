"""Run by tests/test_verl_ips.py with the verl interpreter (.venv-verl): verl's own code on a hand-made batch.

    .venv-verl/bin/python tests/verl_cpu_check.py OUT.json

Builds a DataProto of 2 prompts x 4 responses (HypoSpace causal answers, one uid per prompt, extra_info shared
by a prompt's copies as verl's repeat leaves it), scores it with verl's ``ips_batch`` reward manager loaded
by verl's ``load_reward_manager`` from the configuration examples/verl_ips_grpo.sh uses, and with the stock
``batch`` manager (``compute_score`` of ips_agents.integrations.verl), runs verl's ``compute_advantage`` (GRPO) on the
IPS token rewards, and writes what verl returned to OUT.json for the test to compare with closed forms.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch

RESPONSES = ["Graph: A->B, A->D", "Graph: A->B, A->D", "Graph: A->D, D->B", "no idea",     # prompt 0
             "Graph: A->B, A->D, D->B", "Graph: A->B", "Graph: A->D, D->B", "Graph: A->D, D->B"]  # prompt 1
TASK = {"n_nodes": 4, "observations": [{"perturb": "A", "descendants": ["B", "D"]},
                                       {"perturb": "B", "descendants": []},
                                       {"perturb": "C", "descendants": []}]}


def batch(tok):
    """The hand-made batch: left-padded prompts, right-padded responses, uids, shared extra_info dicts."""
    from verl import DataProto

    prompts = ["Which graphs? (1)", "Which graphs? (second)"]
    p_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    r_ids = [tok(r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for r in RESPONSES]
    p_len, r_len = max(map(len, p_ids)), max(map(len, r_ids))
    n = len(RESPONSES)
    prompt_t = torch.full((n, p_len), tok.pad_token_id)
    resp_t = torch.full((n, r_len), tok.pad_token_id)
    mask = torch.zeros((n, p_len + r_len), dtype=torch.long)
    for i, r in enumerate(r_ids):
        p = p_ids[i // 4]
        prompt_t[i, p_len - len(p):] = torch.tensor(p)
        resp_t[i, : len(r)] = torch.tensor(r)
        mask[i, p_len - len(p): p_len] = 1
        mask[i, p_len: p_len + len(r)] = 1
    infos = [{"index": 0, "split": "train"}, {"index": 1, "split": "train"}]
    task = json.dumps(TASK)
    non_tensor = {"data_source": np.array(["IPS/CausalDAG-v0"] * n, dtype=object),
                  "reward_model": np.array([{"style": "rule", "ground_truth": task}] * n, dtype=object),
                  "extra_info": np.array([infos[i // 4] for i in range(n)], dtype=object),   # shared, as verl repeats
                  "uid": np.array(["uid-a"] * 4 + ["uid-b"] * 4, dtype=object)}
    tensors = {"prompts": prompt_t, "responses": resp_t, "attention_mask": mask,
               "input_ids": torch.cat([prompt_t, resp_t], 1)}
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensor)


def reward_managers(tok):
    """(name, manager): ``ips_batch`` built by verl's ``load_reward_manager`` from the documented configuration
    (verl imports the reward file itself, which registers the manager), then the stock ``batch`` manager."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.workers.reward_manager import get_reward_manager_cls

    path = str(Path(__file__).resolve().parent.parent / "ips_agents" / "integrations" / "verl.py")
    config = OmegaConf.create({
        "custom_reward_function": {"path": path, "name": "compute_score", "reward_kwargs": {"alpha": 1.0, "eps": 0.1}},
        "reward_model": {"reward_manager": "ips_batch"}, "data": {"reward_fn_key": "data_source"}})
    yield "ips_batch", load_reward_manager(config, tok, num_examine=0)

    from ips_agents.integrations import verl as ips_verl

    yield "batch", get_reward_manager_cls("batch")(tokenizer=tok, num_examine=0,
                                                   compute_score=partial(ips_verl.compute_score, alpha=1.0, eps=0.1))


def example_config() -> dict:
    """examples/verl_ips_grpo.sh's overrides composed onto verl's own ppo_trainer configuration by Hydra."""
    import re
    import shlex

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from verl.trainer import main_ppo

    script = (Path(__file__).resolve().parent.parent / "examples" / "verl_ips_grpo.sh").read_text()
    values = {"NGPUS": "8", "ALPHA": "1.0", "MODEL": "some/model", "DATA": "/data", "REWARD_FILE": "/reward.py"}
    overrides = []
    for key, value in re.findall(r"^\s+(\+?[a-z_]+(?:\.[a-z_]+)+)=(.*?)\s*\\?$", script, re.M):
        value = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], value)
        overrides.append(f"{key}={shlex.split(value)[0]}")   # the shell's quote removal
    config_dir = str(Path(main_ppo.__file__).resolve().parent / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)
    return {"n_overrides": len(overrides), "reward_manager": cfg.reward_model.reward_manager,
            "custom_reward_function": OmegaConf.to_container(cfg.custom_reward_function),
            "adv_estimator": cfg.algorithm.adv_estimator, "loss_agg_mode": cfg.actor_rollout_ref.actor.loss_agg_mode,
            "rollout_n": cfg.actor_rollout_ref.rollout.n}


def main(out: str) -> None:
    import verl
    from verl.trainer.ppo.core_algos import AdvantageEstimator
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from ips_agents.integrations.tiny_lm import char_tokenizer

    tok = char_tokenizer(RESPONSES)
    report = {"verl": verl.__version__, "numpy": np.__version__, "torch": torch.__version__}
    for manager, rm in reward_managers(tok):
        report.setdefault("managers", []).append(f"{manager}: {type(rm).__name__}")
        data = batch(tok)
        result = rm(data, return_dict=True)
        reward = result["reward_tensor"]
        lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[1]:].sum(-1)
        report[manager] = {
            "scores": reward.sum(-1).tolist(),
            "last_token": [int(reward[i].nonzero().max()) if reward[i].any() else -1 for i in range(len(reward))],
            "lengths": lengths.tolist(),
            "extra": {k: list(map(str, v)) if k == "outcome" else [float(x) for x in v]
                      for k, v in result["reward_extra_info"].items()},
        }
        data.batch["token_level_rewards"] = reward
        for norm in (True, False):
            adv = compute_advantage(data, adv_estimator=AdvantageEstimator.GRPO, norm_adv_by_std_in_grpo=norm)
            report[manager][f"advantages_norm_{norm}"] = adv.batch["advantages"].tolist()
            report[manager]["response_mask"] = adv.batch["response_mask"].tolist()
    report["example_config"] = example_config()
    with open(out, "w") as fh:
        json.dump(report, fh)


if __name__ == "__main__":
    main(sys.argv[1])
