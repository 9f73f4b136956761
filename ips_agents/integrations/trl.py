"""IPS inside TRL's ``GRPOTrainer``: a reward function that divides each reward by its outcome's in-group frequency.

``IPSReward`` maps every completion to the env's outcome key through a text face
(:func:`ips_envs.text.face`), counts each outcome's frequency ``p`` among the ``num_generations`` completions of
its prompt (its GRPO group), and returns ``r / max(p, eps) ** alpha``. TRL then normalises these rewards within
each group as usual, so the trainer runs the paper's IPS-GRPO (Algorithm 1) unchanged::

    from trl import GRPOConfig, GRPOTrainer
    from ips_agents.trl import IPSReward, task_dataset

    args = GRPOConfig(num_generations=16, scale_rewards="group", loss_type="dr_grpo", ...)
    reward = IPSReward("IPS/CausalDAG-v0", args=args)          # env id (+ env kwargs) or a text face
    trainer = GRPOTrainer(model, reward_funcs=reward, args=args, train_dataset=task_dataset(reward.face, tasks))

Groups. TRL's ``RepeatSampler`` puts the ``num_generations`` completions of a prompt next to each other and each
process scores its own slice of ``per_device_train_batch_size * steps_per_generation`` completions (rewards
are gathered across processes only afterwards). A group is therefore whole on one process exactly when that
slice is a multiple of ``num_generations``; otherwise in-group frequencies would be computed from part of a
group, so ``IPSReward`` refuses such a configuration (``args=`` at construction, and every call checks its
slice). With one process TRL already requires the generation batch to hold whole groups.

Which ``scale_rewards`` and ``loss_type`` (read from TRL 1.16's ``GRPOTrainer``; advantages in
``_generate_and_score_completions``, loss in ``_compute_loss``):

* ``loss_type``: use ``"dr_grpo"`` (or TRL's default ``"dapo"``), never ``"grpo"``/``"sapo"``. IPS is derived for
  the trajectory-level objective, whose gradient is ``A_i * sum_t grad log pi(token_t)`` for completion ``i``.
  ``"dr_grpo"`` sums token losses and divides by the constant ``batch * max_completion_length``, so every
  completion gets exactly that gradient up to one fixed scale; ``"dapo"``/``"bnpo"`` divide by the number of
  tokens in the batch, a scale shared by all completions of a step. ``"grpo"`` divides each completion's sum by
  its own length, which weights an outcome's push by ``1 / len(answer)``: answers with more edges or deeper
  expressions get less, and the reward-proportional fixed point moves towards short answers.
* ``scale_rewards``: ``"group"`` (TRL's default) is the paper's Eq. 9, ``(r' - mean_g) / (std_g + 1e-4)``. The
  scaled rewards stay an affine function of ``r'`` within a group, so a rarer valid outcome keeps a larger
  advantage than a frequent one; a group whose completions are all the same outcome has std 0 and gets
  advantage 0 (correct: it carries no information about other outcomes). With a single rewarded outcome in a
  group the std cancels the IPS factor and IPS-GRPO equals GRPO there, as in the paper; IPS acts through
  groups with several distinct rewarded outcomes, so use ``num_generations`` >= the number of answers you
  want kept (the benchmark's per-task runs use 16-32). ``"batch"`` keeps the relative size of groups' updates and
  also works; ``"none"`` passes raw ``r / p`` (up to ``1 / eps``) to the loss, which needs a smaller learning rate.

Tasks reach the reward through a dataset column (``task``: the task's JSON) that TRL passes to reward
functions; :func:`task_dataset` builds it. Requires the ``[llm]`` extra (``pip install 'ips-rl[llm]'``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

try:
    import trl  # noqa: F401  (fail early, with the extra's name, when TRL is missing)
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("ips_agents.trl needs the [llm] extra: pip install 'ips-rl[llm]'") from err

from ips_agents.ips import group_frequencies, ips_rewards
from ips_envs.text import TextFace, face

LENGTH_NORMALISED_LOSSES = ("grpo", "sapo")
"""TRL loss types that average each completion's token losses over its own length (see the module docstring)."""

NO_ANSWER = "\x00no answer"
"""Outcome counted for completions without a parsed answer (their reward is 0, so their weight never matters)."""


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or the last message's content in conversational form."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


def task_dataset(text_face: TextFace, tasks: Iterable[Mapping[str, Any]], compact: bool = False,
                 repeat: int = 1) -> Any:
    """A ``datasets.Dataset`` with the columns ``prompt`` (the face's prompt) and ``task`` (the task's JSON).

    ``compact=True`` uses the faces' short prompts (observations only, for small models); ``repeat`` lists
    every task that many times (one training epoch then visits each task ``repeat`` times).
    """
    from datasets import Dataset

    tasks = [text_face.task(t) for t in tasks]
    if not tasks:
        raise ValueError("task_dataset needs at least one task")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    rows = [t for t in tasks for _ in range(repeat)]
    return Dataset.from_dict({"prompt": [text_face.prompt(t, compact=compact) for t in rows],
                              "task": [json.dumps(t, sort_keys=True) for t in rows]})


class IPSReward:
    """``GRPOTrainer`` reward function: the env's reward divided by the outcome's in-group frequency.

    Args:
        env: an env id with a text face (``"IPS/CausalDAG-v0"``, ...; ``env_kwargs`` as for ``gymnasium.make``)
            or a :class:`~ips_envs.text.TextFace`.
        num_generations: TRL's ``num_generations`` (the group size ``G``); taken from ``args`` when omitted.
        args: the ``GRPOConfig`` the trainer uses: its group size and per-process batch are checked here.
        alpha: tempering exponent in [0, 1] (1 = IPS, 0 = the env's reward unchanged: plain GRPO).
        eps: probability floor in (0, 1]; the weight is at most ``1 / eps ** alpha`` (0.1 as in ``IPSGRPO``).
        num_processes: processes TRL runs on (default ``args.world_size``, else 1); for checking ``args``.
        task_column: the dataset column holding each prompt's task (JSON or dict); without one the face's
            ``task=`` is used.

    Calling it as TRL does (``prompts=``, ``completions=``, the dataset columns as keyword lists) returns one
    float per completion. ``last`` keeps the latest call's outcomes, validity, raw rewards and frequencies.
    With TRL's ``log_metric`` it logs ``ips/valid_fraction`` and ``ips/distinct_valid_per_group``.
    """

    def __init__(self, env: str | TextFace, num_generations: int | None = None, *, args: Any = None,
                 alpha: float = 1.0, eps: float = 0.1, num_processes: int | None = None, task_column: str = "task",
                 **env_kwargs: Any) -> None:
        if isinstance(env, TextFace):
            if env_kwargs:
                raise ValueError(f"env kwargs {sorted(env_kwargs)} given with a built face; pass an env id instead")
            self.face = env
        elif isinstance(env, str):
            self.face = face(env, **env_kwargs)
        else:
            raise ValueError(f"env must be an env id or a text face, got {env!r}")
        if num_generations is None:
            if args is None:
                raise ValueError("pass num_generations (TRL's group size) or args=GRPOConfig(...)")
            num_generations = args.num_generations
        if isinstance(num_generations, bool) or not isinstance(num_generations, int | np.integer) \
                or num_generations < 2:
            raise ValueError(f"num_generations must be an integer >= 2, got {num_generations!r}")
        if args is not None and args.num_generations != num_generations:
            raise ValueError(f"num_generations={num_generations} but args.num_generations={args.num_generations}")
        ips_rewards(np.zeros(1), np.ones(1), alpha=alpha, eps=eps)  # validates alpha and eps
        self.num_generations = int(num_generations)
        self.alpha, self.eps, self.task_column = float(alpha), float(eps), task_column
        self.__name__ = "ips" if self.alpha > 0 else "reward"
        self.last: dict[str, Any] = {}
        if args is not None:
            self.check_config(args, num_processes)

    # ------------------------------------------------------------------ configuration
    def check_config(self, args: Any, num_processes: int | None = None) -> None:
        """Refuse a ``GRPOConfig`` under which a process would score part of a group (see the module docstring)."""
        g = self.num_generations
        processes = num_processes if num_processes is not None else int(getattr(args, "world_size", 1) or 1)
        per_device = int(args.per_device_train_batch_size)
        steps = int(getattr(args, "steps_per_generation", None) or getattr(args, "gradient_accumulation_steps", 1))
        local = per_device * steps
        if local % g:
            raise ValueError(
                f"each of the {processes} process(es) scores per_device_train_batch_size * steps_per_generation = "
                f"{per_device} * {steps} = {local} completions, not a multiple of num_generations = {g}: a group "
                "would be split across processes and its in-group frequencies computed from part of it. Make "
                f"per_device_train_batch_size * steps_per_generation a multiple of {g}"
            )
        if getattr(args, "loss_type", None) in LENGTH_NORMALISED_LOSSES:
            warnings.warn(f"loss_type={args.loss_type!r} divides each completion's loss by its own length, which "
                          "favours short answers and moves IPS's reward-proportional fixed point; use "
                          "loss_type='dr_grpo' (or 'dapo')", stacklevel=3)
        g_eval = getattr(args, "num_generations_eval", None)
        if g_eval not in (None, g) and str(getattr(args, "eval_strategy", "no")) not in ("no", "IntervalStrategy.NO"):
            raise ValueError(f"num_generations_eval={g_eval} differs from num_generations={g}; IPSReward groups "
                             "completions by num_generations, so evaluate with the same group size")

    # ------------------------------------------------------------------ scoring
    def _tasks(self, n: int, kwargs: Mapping[str, Any]) -> list[Any]:
        column = kwargs.get(self.task_column)
        if column is None:
            if self.face.fixed_task is None:
                raise ValueError(f"no {self.task_column!r} column reached the reward function and the face has no "
                                 f"task=; build the dataset with ips_agents.trl.task_dataset")
            return [None] * n
        if len(column) != n:
            raise ValueError(f"{len(column)} tasks for {n} completions")
        return list(column)

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        if completions is None:
            raise ValueError("IPSReward needs completions=")
        n, g = len(completions), self.num_generations
        if n % g:
            raise ValueError(
                f"IPSReward got {n} completions, not a multiple of num_generations = {g}: this process holds part "
                "of a group. Make per_device_train_batch_size * steps_per_generation a multiple of num_generations"
            )
        tasks = self._tasks(n, kwargs)
        prompt_keys = [json.dumps(p, sort_keys=True, default=str) for p in prompts] if prompts is not None else None
        for start in range(0, n, g):
            same_task = len({json.dumps(t, sort_keys=True, default=str) for t in tasks[start:start + g]}) == 1
            same_prompt = prompt_keys is None or len(set(prompt_keys[start:start + g])) == 1
            if not (same_task and same_prompt):
                raise ValueError(
                    f"completions {start}..{start + g - 1} do not share one prompt and task: groups of "
                    f"num_generations = {g} are not aligned with this process's slice. Make "
                    "per_device_train_batch_size * steps_per_generation a multiple of num_generations"
                )
        texts = [completion_text(c) for c in completions]
        if prompts is not None:  # compact prompts end with the answer label: the completion continues that line
            texts = [self.face.with_prompt(x, p) if isinstance(p, str) else x
                     for x, p in zip(texts, prompts, strict=True)]
        results = [self.face.parse(x, t) for x, t in zip(texts, tasks, strict=True)]
        rewards = np.array([self.face.reward(r, t) for r, t in zip(results, tasks, strict=True)], dtype=np.float64)
        outcomes = np.array([NO_ANSWER if r.outcome is None else r.outcome for r in results], dtype=object)
        groups = np.arange(n) // g
        freq = group_frequencies(outcomes.astype(str), groups)
        scaled = ips_rewards(rewards, freq, alpha=self.alpha, eps=self.eps)
        valid = np.array([r.valid for r in results])
        self.last = {"outcomes": outcomes.tolist(), "valid": valid, "rewards": rewards, "frequencies": freq,
                     "scaled": scaled}
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric("ips/valid_fraction", float(valid.mean()))
            distinct = [len(set(outcomes[groups == i][valid[groups == i]])) for i in range(n // g)]
            log_metric("ips/distinct_valid_per_group", float(np.mean(distinct)))
        return scaled.tolist()
