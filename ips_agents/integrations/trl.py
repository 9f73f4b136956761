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

Groups. TRL's ``RepeatSampler`` puts the ``num_generations`` completions of a prompt next to each other in the
global generation batch, and each process scores its own slice of ``per_device_train_batch_size *
steps_per_generation`` completions (TRL gathers the rewards only afterwards). On several processes a group is
often split between them (``per_device_train_batch_size=4``, ``num_generations=16``), so ``IPSReward`` gathers
every process's outcome keys, rewards and prompt/task keys with accelerate's ``gather_object``, computes the
in-group frequencies on the whole groups of the global batch (in process order, as TRL lays it out) and
returns each process its own slice. It refuses only what cannot be computed: a global batch that is not a
multiple of ``num_generations``, or a group of ``num_generations`` consecutive completions that do not share
one prompt and task (a sampler other than TRL's ``RepeatSampler``).

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

from ips_agents.integrations.groups import NO_ANSWER, ips_rewards, scale_by_group
from ips_envs.text import TextFace, face

LENGTH_NORMALISED_LOSSES = ("grpo", "sapo")
"""TRL loss types that average each completion's token losses over its own length (see the module docstring)."""

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
        self._warned_chat_label = False
        if args is not None:
            self.check_config(args, num_processes)

    # ------------------------------------------------------------------ configuration
    def check_config(self, args: Any, num_processes: int | None = None) -> None:
        """Refuse a ``GRPOConfig`` under which a process would score part of a group (see the module docstring)."""
        g = self.num_generations
        processes = num_processes if num_processes is not None else int(getattr(args, "world_size", 1) or 1)
        per_device = int(args.per_device_train_batch_size)
        steps = int(getattr(args, "steps_per_generation", None) or getattr(args, "gradient_accumulation_steps", 1))
        total = per_device * steps * processes
        if total % g:
            raise ValueError(
                f"the generation batch of per_device_train_batch_size * steps_per_generation * processes = "
                f"{per_device} * {steps} * {processes} = {total} completions is not a multiple of num_generations = "
                f"{g}: its last group would be incomplete. Make that product a multiple of {g}"
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

    def _group_key(self, prompt: Any, task: Any) -> str:
        """What every completion of one group shares: its prompt and its task."""
        return json.dumps([prompt, task], sort_keys=True, default=str)

    def _warn_chat_label(self, prompts: Sequence[Any]) -> None:
        """Warn once when a conversational prompt's last message ends with the bare answer label."""
        if self._warned_chat_label:
            return
        for p in prompts:
            if isinstance(p, str) or not p:
                continue
            text = completion_text(p)
            if text and self.face.with_prompt("", text):
                self._warned_chat_label = True
                warnings.warn(
                    f"the chat prompt's last message ends with the answer label {self.face.label + ':'!r}: the "
                    "assistant's reply is a new message, so a completion that only continues that line has no "
                    "label and is unparseable (reward 0). End chat prompts with the instructions (the faces' "
                    "prompt(task) does) and let the model write the label itself, or use plain-text prompts "
                    "(a completion of a plain prompt continues the label's line)", UserWarning, stacklevel=3)
                return

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        """One scaled reward per completion of this process (see the class docstring)."""
        if completions is None:
            raise ValueError("IPSReward needs completions=")
        n, g = len(completions), self.num_generations
        if prompts is not None and len(prompts) != n:
            raise ValueError(f"{len(prompts)} prompts for {n} completions")
        tasks = self._tasks(n, kwargs)
        texts = [completion_text(c) for c in completions]
        if prompts is not None:  # compact prompts end with the answer label: the completion continues that line
            self._warn_chat_label(prompts)
            texts = [self.face.with_prompt(x, p) if isinstance(p, str) else x
                     for x, p in zip(texts, prompts, strict=True)]
        results = [self.face.parse(x, t) for x, t in zip(texts, tasks, strict=True)]
        rewards = [self.face.reward(r, t) for r, t in zip(results, tasks, strict=True)]
        outcomes = [NO_ANSWER if r.outcome is None else str(r.outcome) for r in results]
        keys = [self._group_key(p, t) for p, t in zip(prompts if prompts is not None else [None] * n, tasks,
                                                       strict=True)]
        valid = [bool(r.valid) for r in results]
        # the whole generation batch, in TRL's process order (one process: this call's completions)
        local = list(zip(outcomes, rewards, keys, valid, strict=True))
        everything = gather_across_processes(local)
        start = sum(gather_across_processes([n])[:process_index()])
        all_outcomes, all_rewards, all_keys, all_valid = ([row[i] for row in everything] for i in range(4))
        total = len(everything)
        if total % g:
            raise ValueError(
                f"IPSReward got {total} completions over all processes, not a multiple of num_generations = {g}: "
                "a group is incomplete. Make per_device_train_batch_size * steps_per_generation * processes a "
                f"multiple of {g}"
            )
        for first in range(0, total, g):
            if len(set(all_keys[first:first + g])) != 1:
                raise ValueError(
                    f"completions {first}..{first + g - 1} of the generation batch do not share one prompt and task: "
                    f"they are not one group of num_generations = {g}. IPSReward needs TRL's order (each prompt's "
                    "num_generations completions next to each other, as GRPOTrainer's RepeatSampler lays them out)"
                )
        groups = np.arange(total) // g
        scaled, freq = scale_by_group(all_rewards, all_outcomes, groups, alpha=self.alpha, eps=self.eps)
        mine = slice(start, start + n)
        all_valid_arr = np.array(all_valid, dtype=bool)
        self.last = {"outcomes": outcomes, "valid": np.array(valid, dtype=bool),
                     "rewards": np.asarray(rewards, dtype=np.float64), "frequencies": freq[mine],
                     "scaled": scaled[mine]}
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):  # over the whole generation batch, so every process logs the same values
            log_metric("ips/valid_fraction", float(all_valid_arr.mean()))
            outs = np.array(all_outcomes, dtype=object)
            distinct = [len(set(outs[groups == i][all_valid_arr[groups == i]])) for i in range(total // g)]
            log_metric("ips/distinct_valid_per_group", float(np.mean(distinct)))
        return scaled[mine].tolist()


def _distributed_world() -> int:
    """Processes of the initialised ``torch.distributed`` group (1 when there is none)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def process_index() -> int:
    """This process's rank in the initialised ``torch.distributed`` group (0 when there is none)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_across_processes(items: list[Any]) -> list[Any]:
    """Every process's ``items`` concatenated in rank order (accelerate's ``gather_object``); one process: as is.

    Every process must call it (it is a collective), as TRL's reward calls are.
    """
    if _distributed_world() == 1:
        return list(items)
    from accelerate.utils import gather_object

    return list(gather_object(list(items)))
