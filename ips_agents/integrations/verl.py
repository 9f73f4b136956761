"""IPS in verl: a batch reward function that divides each reward by its outcome's in-group frequency.

verl's ``batch`` reward manager (``verl.workers.reward_manager.BatchRewardManager``, reached with
``reward_model.reward_manager=batch``; verl <= 0.6.x, the versions whose trainer still builds reward managers
from ``verl.workers.reward_manager``) calls one function for the whole batch::

    compute_score(data_sources=..., solution_strs=..., ground_truths=..., extra_infos=..., **reward_kwargs)

:func:`compute_score` reads every response's outcome key and reward (by default through the HypoSpace text faces:
``data_source`` is the env id, ``ground_truth`` the task's JSON), groups the responses by their prompt, and
returns ``{"score": r / max(p, eps) ** alpha, ...}`` per response, ``p`` being the outcome's share of its
group. verl's own ``grpo`` advantage estimator then normalises within each ``uid`` group as usual, so
``algorithm.adv_estimator=grpo`` with this reward runs the paper's IPS-GRPO.

Groups. verl repeats each prompt ``actor_rollout_ref.rollout.n`` times and marks the copies with one ``uid``
(``non_tensor_batch["uid"]``), which the stock manager does not hand to the reward function. The
``ips_batch`` manager registered here (:class:`IPSBatchRewardManager`, ``reward_model.reward_manager=ips_batch``)
is the ``batch`` manager plus that uid in each ``extra_info``; with the stock ``batch`` manager the group is
``extra_info["index"]`` (the dataset row, which verl's data recipes and :func:`dataset_rows` write), which
merges two copies of one row drawn into the same batch.

Advantage estimators. verl's registry (``register_adv_est``) hands an estimator the token rewards, the response
mask, the uid and the algorithm config, not the outcome of a response (``reward_extra_info`` goes into
``non_tensor_batch`` but ``compute_advantage`` does not pass it on), so an estimator cannot count outcomes:
the reward function is where IPS goes.

A whole run (several GPUs): ``examples/verl_ips_grpo.sh``. Importing this module needs numpy and the text faces
only; the reward manager class is defined when verl is importable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ips_agents.integrations.groups import scale_by_group

ScoreFn = Callable[[str, str, Any, Mapping[str, Any]], tuple[float, Hashable | None]]
"""``(data_source, solution_str, ground_truth, extra_info) -> (reward, outcome key or None)``."""

GROUP_KEYS = ("uid", "index")
"""``extra_info`` keys that name a response's group, in order of preference."""


@lru_cache(maxsize=64)
def _face(env_id: str, env_kwargs_json: str) -> Any:
    from ips_envs.text import face

    return face(env_id, **json.loads(env_kwargs_json))


def hypospace_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any]
                    ) -> tuple[float, Hashable | None]:
    """The env's reward and outcome key of a response, read by the env's text face.

    ``data_source`` is the env id (``"IPS/CausalDAG-v0"``), ``ground_truth`` the task (JSON or dict) and
    ``extra_info["env_kwargs"]`` (optional) the env's keyword arguments.
    """
    if not isinstance(data_source, str) or not data_source:
        raise ValueError(f"data_source must be an env id with a text face (e.g. 'IPS/CausalDAG-v0'), got "
                         f"{data_source!r}")
    kwargs = (extra_info or {}).get("env_kwargs") or {}
    f = _face(data_source, json.dumps(kwargs, sort_keys=True))
    result = f.parse(solution_str, ground_truth)
    return f.reward(result, ground_truth), result.outcome


def group_ids(extra_infos: Sequence[Mapping[str, Any] | None]) -> list[Hashable]:
    """Each response's group: ``extra_info["uid"]``, else ``extra_info["index"]`` (see the module docstring)."""
    ids = []
    for i, info in enumerate(extra_infos):
        info = info or {}
        key = next((k for k in GROUP_KEYS if info.get(k) is not None), None)
        if key is None:
            raise ValueError(f"response {i}: extra_info has neither 'uid' nor 'index' ({sorted(info)}), so its prompt "
                             "group is unknown; use reward_model.reward_manager=ips_batch (adds the uid) or write "
                             "extra_info['index'] per dataset row (ips_agents.integrations.verl.dataset_rows does)")
        ids.append(f"{key}:{info[key]}")
    return ids


def ips_batch_scores(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                     extra_infos: Sequence[Mapping[str, Any] | None], score: ScoreFn = hypospace_score,
                     alpha: float = 1.0, eps: float = 0.1) -> list[dict[str, Any]]:
    """One ``{"score", "reward", "outcome", "frequency"}`` per response (``score`` is the IPS reward).

    Args:
        data_sources, solution_strs, ground_truths, extra_infos: what verl's ``batch`` manager passes.
        score: the reward and outcome key of one response (default: :func:`hypospace_score`).
        alpha: tempering exponent in [0, 1] (0: the reward unchanged, plain GRPO).
        eps: probability floor in (0, 1].
    """
    n = len(solution_strs)
    if not len(data_sources) == len(ground_truths) == len(extra_infos) == n:
        raise ValueError(f"verl passed {len(data_sources)} data sources, {n} responses, {len(ground_truths)} ground "
                         f"truths and {len(extra_infos)} extra infos; they must have one entry per response")
    pairs = [score(d, s, g, e or {}) for d, s, g, e in zip(data_sources, solution_strs, ground_truths, extra_infos,
                                                          strict=True)]
    rewards = [float(r) for r, _ in pairs]
    outcomes = [o for _, o in pairs]
    scaled, freq = scale_by_group(rewards, outcomes, group_ids(extra_infos), alpha=alpha, eps=eps)
    return [{"score": float(s), "reward": r, "outcome": "" if o is None else str(o), "frequency": float(p)}
            for s, r, o, p in zip(scaled, rewards, outcomes, freq, strict=True)]


def compute_score(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                  extra_infos: Sequence[Mapping[str, Any] | None], alpha: float = 1.0, eps: float = 0.1,
                  **_: Any) -> list[dict[str, Any]]:
    """verl's ``custom_reward_function`` for the ``batch``/``ips_batch`` managers: IPS on HypoSpace text answers.

    ``custom_reward_function.reward_kwargs`` may set ``alpha`` and ``eps``; other keywords verl adds are ignored.
    """
    return ips_batch_scores(data_sources, solution_strs, ground_truths, extra_infos, alpha=alpha, eps=eps)


def dataset_rows(env_id: str, tasks: Sequence[Mapping[str, Any]], split: str = "train",
                 env_kwargs: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """verl's RL dataset rows for HypoSpace tasks: a chat prompt, the task as ground truth, the row index.

    Write them with ``pandas.DataFrame(rows).to_parquet(path)`` and pass the file as ``data.train_files``.
    The prompt is the face's full HypoSpace prompt (it ends with the instructions; the model writes the
    answer label itself).
    """
    f = _face(env_id, json.dumps(dict(env_kwargs or {}), sort_keys=True))
    tasks = [f.task(t) for t in tasks]
    if not tasks:
        raise ValueError("dataset_rows needs at least one task")
    return [{"data_source": env_id, "prompt": [{"role": "user", "content": f.prompt(t)}], "ability": "hypospace",
             "reward_model": {"style": "rule", "ground_truth": json.dumps(t, sort_keys=True)},
             "extra_info": {"index": i, "split": split, "env_kwargs": dict(env_kwargs or {})}}
            for i, t in enumerate(tasks)]


def _with_uids(extra_infos: Sequence[Mapping[str, Any] | None], uids: Sequence[Any]) -> np.ndarray:
    """Copies of the extra infos with each response's uid added (verl shares one dict among a prompt's copies)."""
    return np.array([{**(e or {}), "uid": u} for e, u in zip(extra_infos, uids, strict=True)], dtype=object)


def register_reward_manager() -> type | None:
    """Register :class:`IPSBatchRewardManager` as verl's ``ips_batch`` reward manager (None without verl).

    Safe to call again, and when verl loads this file a second time under another module name
    (``custom_reward_function.path``): the first registration is kept.
    """
    try:
        from verl.workers.reward_manager import BatchRewardManager, register
        from verl.workers.reward_manager.registry import REWARD_MANAGER_REGISTRY
    except ImportError:
        return None
    if "ips_batch" in REWARD_MANAGER_REGISTRY:
        return REWARD_MANAGER_REGISTRY["ips_batch"]

    class IPSBatchRewardManager(BatchRewardManager):
        """verl's ``batch`` manager that puts each response's ``uid`` into its ``extra_info`` (for grouping)."""

        def verify(self, data: Any) -> Any:
            uids = data.non_tensor_batch.get("uid")
            if uids is None:
                raise ValueError("the batch has no 'uid' column; verl's trainer adds it before scoring (one per "
                                 "prompt, shared by its rollout.n responses)")
            extras = data.non_tensor_batch.get("extra_info", [None] * len(data))
            data.non_tensor_batch["extra_info"] = _with_uids(extras, uids)
            return super().verify(data)

    return register("ips_batch")(IPSBatchRewardManager)


IPSBatchRewardManager = register_reward_manager()
"""verl's ``ips_batch`` reward manager (``None`` when verl is not installed)."""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ips_agents.integrations.verl --env IPS/CausalDAG-v0 --out DIR``: train/test parquet files.

    The env's task family split in halves (``ips_envs.datasets.split_tasks``, seed 0): ``DIR/train.parquet`` and
    ``DIR/test.parquet`` for verl's ``data.train_files`` / ``data.val_files``.
    """
    import argparse
    import os

    import pandas as pd

    from ips_envs.datasets import split_tasks

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--env", default="IPS/CausalDAG-v0", help="an env id with a text face")
    parser.add_argument("--env-kwargs", default="{}", help="the env's keyword arguments as JSON")
    parser.add_argument("--out", required=True, help="folder for train.parquet and test.parquet")
    args = parser.parse_args(argv)
    env_kwargs = json.loads(args.env_kwargs)
    tasks = _face(args.env, json.dumps(env_kwargs, sort_keys=True)).kernel.all_tasks()
    os.makedirs(args.out, exist_ok=True)
    for split, part in zip(("train", "test"), split_tasks(tasks, seed=0), strict=True):
        path = os.path.join(args.out, f"{split}.parquet")
        pd.DataFrame(dataset_rows(args.env, part, split=split, env_kwargs=env_kwargs)).to_parquet(path)
        print(f"{path}: {len(part)} tasks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
