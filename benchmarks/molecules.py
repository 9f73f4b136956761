"""Molecules (paper Section 5.3, offline rewards): is the gain IPS, or the learning rate?

Every method starts from the packaged GRU SMILES prior (``ips_agents/data/smiles_prior.pt``), acts in the
same action space (``IPS/SMILES-v0`` tokens under the env's grammar masks, ``max_length`` 60), samples 64
sequences per update and spends one budgeted :class:`ips_envs.smiles.oracle.Oracle` (PMO/Saturn accounting: only
new valid canonical molecules cost a call). Methods:

* ``IPS-GRPO``: :class:`ips_agents.IPSGRPO` with :class:`ips_agents.molecules.SmilesPriorPolicy`, groups of
  16 x 4, count estimator (eps 0.1, group-std advantages), Adam lr 1e-3 (:data:`LEARNING_RATE`), k3-KL to
  the prior (``kl_coef`` 0.01); no diversity filter and no replay (IPS is the anti-collapse mechanism tested);
* ``IPS-GRPO-trajectory``: the same with ``ips_estimator="trajectory"`` (the propensity of a sample is the
  probability of its SMILES string, ``p(tau)``) and that estimator's library defaults for the floor and
  the advantage normalisation (eps 1e-6, no std normalisation);
* ``IPS-GRPO-trajectory-0.1``: the trajectory estimator with the count estimator's floor and normalisation
  (eps 0.1, group std): a string's reward is divided by its probability only once that probability
  exceeds 0.1, i.e. only strings the policy is collapsing onto are scaled down;
* ``GRPO``: exactly IPS-GRPO's settings with ``ips_alpha=0``;
* ``REINVENT``: :class:`ips_agents.molecules.Reinvent` with REINVENT4's defaults (sigma 128, batch 64,
  identical-Murcko-scaffold filter bucket 25 / minscore 0.4, top-50 replay memory, 10 replayed per step),
  sampling under the same masks, at each learning rate of a small sweep (:data:`REINVENT_LEARNING_RATES`,
  REINVENT4's default 1e-4 first); the best one (highest mean Yield at the lower threshold) is marked.

A run stops when the budget is spent, after ``--max-updates`` updates (default: about 10 sampled sequences
per budgeted call, :func:`default_max_updates`) or after ``--max-minutes``; the table says which, and how
many calls were spent: a learner that only re-samples molecules it already knows never spends its budget,
which is the collapse itself. Metrics come from the oracle history with :mod:`ips_agents.molecules.metrics`
(raw rewards):

* Yield@t: unique molecules with reward >= t; OB100@t: oracle calls until the 100th of them (mean over the
  seeds that reached it, with how many did);
* PMO AUC top-10 over the budget; internal diversity (mean pairwise Tanimoto distance, Morgan r=2, 2048
  bits), #Murcko scaffolds and #Circles (t = 0.75) of the molecules above the lower threshold;
* updates, sequences sampled, seconds, and the share of sampled sequences whose molecule occurs more than
  once in its group of 16 (the only samples the count estimator re-weights).

Every finished run is stored (``--runs-dir``, default ``runs/molecules``: its spec, metrics and oracle
history), so an interrupted grid resumes where it stopped and ``--report-only`` rebuilds the tables (and
the Yield curves in ``benchmarks/figures/``) from whatever has finished:

    python -m benchmarks.molecules --quick                 # budget 1,000, 1 seed, both oracles (minutes)
    python -m benchmarks.molecules                         # budget 10,000, both oracles, 3 seeds, every method
    python -m benchmarks.molecules --methods GRPO --oracles drug_mpo   # part of the grid
    python -m benchmarks.molecules --report-only           # tables from the finished runs
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from rdkit import RDLogger

from benchmarks.report import append_section, commit, figures_dir, section_title, table
from ips_agents.molecules import metrics as mm
from ips_envs.smiles.oracle import Oracle, OracleBudgetExhausted

ORACLES = ("drug_mpo", "osimertinib_mpo")
THRESHOLDS: dict[str, tuple[float, float]] = {
    "drug_mpo": (0.8, 0.85),
    "osimertinib_mpo": (0.8, 0.85),
}
"""Two Yield/OB100 thresholds per oracle, the paper's 0.80 / 0.85. Both are above what the prior reaches
(measured on 2,000 masked prior samples: drug_mpo median 0.60, 99th percentile 0.73, max 0.81;
osimertinib_mpo median 0.10, 99th percentile 0.73, max 0.78); the run prints these percentiles again."""

METHODS = ("IPS-GRPO", "IPS-GRPO-trajectory", "IPS-GRPO-trajectory-0.1", "GRPO", "REINVENT")
GRPO_METHODS: dict[str, dict[str, Any]] = {
    "IPS-GRPO": {"ips_alpha": 1.0, "ips_estimator": "count"},
    "IPS-GRPO-trajectory": {"ips_alpha": 1.0, "ips_estimator": "trajectory"},
    "IPS-GRPO-trajectory-0.1": {"ips_alpha": 1.0, "ips_estimator": "trajectory", "ips_eps": 0.1,
                                "advantage_norm": "group"},
    "GRPO": {"ips_alpha": 0.0, "ips_estimator": "count"},
}
"""GRPO-family methods: their IPSGRPO arguments besides the shared ones (defaults for what is not given)."""
GROUP_SIZE, N_GROUPS = 16, 4
BATCH = GROUP_SIZE * N_GROUPS
KL_COEF = 0.01
LEARNING_RATE = 1e-3
"""IPS-GRPO / GRPO Adam lr. Measured (osimertinib_mpo, seed 0): at 1e-4 the policy barely moves within 5,000
calls, every sampled molecule is new, no group ever holds a repeated outcome, and IPS-GRPO is then exactly
GRPO (identical runs); at 1e-3 GRPO starts repeating molecules and the two differ."""
REINVENT_LEARNING_RATES = (1e-4, 5e-4, 1e-3)
"""REINVENT's sweep; 1e-4 is REINVENT4's default, 5e-4 the original REINVENT's and PMO's."""
SEQUENCES_PER_CALL = 10
"""Default update cap: about this many sampled sequences per budgeted oracle call."""
RUNS_DIR = Path("runs") / "molecules"
TITLE = "Molecules: IPS-GRPO vs GRPO vs REINVENT under an oracle budget"


def _lr(lr: float) -> str:
    """A learning rate as written in the docs: 1e-4, 5e-4, 0.001 -> 1e-3."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def default_max_updates(budget: int) -> int:
    """Update cap of a run with ``budget`` oracle calls: ``SEQUENCES_PER_CALL * budget / 64 + 10``."""
    return SEQUENCES_PER_CALL * budget // BATCH + 10


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run (a stored run is reused only when its spec is equal)."""

    method: str
    oracle: str
    seed: int
    budget: int
    learning_rate: float
    kl_coef: float
    max_updates: int
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {list(METHODS)}")
        if self.oracle not in THRESHOLDS:
            raise ValueError(f"no thresholds for oracle {self.oracle!r}; known: {sorted(THRESHOLDS)}")

    @property
    def label(self) -> str:
        """Row label: the method, with its learning rate for the REINVENT sweep."""
        return f"REINVENT lr {_lr(self.learning_rate)}" if self.method == "REINVENT" else self.method

    def path(self, runs_dir: Path) -> Path:
        name = f"{self.method}-lr{self.learning_rate:g}-seed{self.seed}.json.gz"
        return runs_dir / f"{self.oracle}-{self.budget}" / name


# ----------------------------------------------------------------------------------------------- runs
def _stopped(oracle: Oracle, updates: int, max_updates: int, t0: float, max_minutes: float | None) -> str | None:
    if oracle.exhausted:
        return "budget"
    if updates >= max_updates:
        return "updates"
    if max_minutes is not None and time.monotonic() - t0 >= 60.0 * max_minutes:
        return "time"
    return None


def run_grpo(oracle: Oracle, seed: int, ips_alpha: float, max_batches: int, kl_coef: float = KL_COEF,
             learning_rate: float = LEARNING_RATE, ips_estimator: str = "count",
             max_minutes: float | None = None, **ips_kwargs: Any) -> dict[str, Any]:
    """IPS-GRPO (``ips_alpha=1``) or GRPO (0) with the prior policy until the oracle is exhausted, or
    ``max_batches`` updates, or ``max_minutes``; returns counters and in-group diagnostics. ``ips_kwargs``
    (``ips_eps``, ``advantage_norm``) go to IPSGRPO."""
    from stable_baselines3.common.logger import Logger

    from ips_agents import estimators
    from ips_agents.algorithms.ips_grpo import IPSGRPO
    from ips_agents.molecules import SmilesPriorPolicy

    model = IPSGRPO(SmilesPriorPolicy, "IPS/SMILES-v0", group_size=GROUP_SIZE, n_groups=N_GROUPS,
                    ips_alpha=ips_alpha, ips_estimator=ips_estimator, kl_coef=kl_coef,
                    learning_rate=learning_rate, seed=seed, env_kwargs={"oracle": oracle, "max_length": 60},
                    **ips_kwargs)
    model.set_logger(Logger(folder=None, output_formats=[]))
    t0 = time.monotonic()
    batches, repeated, above_floor, log_p = 0, [], [], []
    stop = None
    while (stop := _stopped(oracle, batches, max_batches, t0, max_minutes)) is None:
        batch = model.collect_batch()
        assert batch is not None
        model.num_trajectories += batch.n_trajectories
        if model.budget_exhausted:  # as IPSGRPO.learn: no update on a batch that met the spent budget
            stop = "budget"
            break
        freq = estimators.group_frequencies(batch.outcomes.astype(str), batch.groups)
        repeated.append(float(np.mean(freq > 1.0 / GROUP_SIZE + 1e-12)))
        above_floor.append(float(np.mean(batch.traj_log_probs > np.log(model.ips_eps))))
        log_p.append(float(np.median(batch.traj_log_probs)))
        model.train_on_batch(batch)
        batches += 1
    return {"updates": batches, "trajectories": model.num_trajectories, "stop": stop,
            "repeated_in_group": float(np.mean(repeated)) if repeated else 0.0,
            "repeated_in_group_last": float(np.mean(repeated[-10:])) if repeated else 0.0,
            "above_floor": float(np.mean(above_floor)) if above_floor else 0.0,
            "median_log_p": float(np.median(log_p)) if log_p else 0.0,
            "ips_eps": float(model.ips_eps), "advantage_norm": model.advantage_norm}


def run_reinvent(oracle: Oracle, seed: int, max_batches: int, learning_rate: float = REINVENT_LEARNING_RATES[0],
                 max_minutes: float | None = None) -> dict[str, Any]:
    """The REINVENT baseline until the oracle is exhausted, or ``max_batches`` steps, or ``max_minutes``."""
    from ips_agents.molecules import Reinvent

    agent = Reinvent(oracle, seed=seed, batch_size=BATCH, learning_rate=learning_rate)
    t0 = time.monotonic()
    unique = []
    stop = None
    while (stop := _stopped(oracle, agent.n_steps, max_batches, t0, max_minutes)) is None:
        try:
            stats = agent.step()
        except OracleBudgetExhausted:
            stop = "budget"
            break
        unique.append(stats["unique_sequences"] / BATCH)
    return {"updates": agent.n_steps, "trajectories": agent.n_sampled, "stop": stop,
            "repeated_in_batch": 1.0 - float(np.mean(unique)) if unique else 0.0}


def one_run(spec: RunSpec) -> dict[str, Any]:
    """Train one method once; return its metrics and the oracle history."""
    th.manual_seed(spec.seed)
    oracle = Oracle(spec.oracle, budget=spec.budget)
    t0 = time.monotonic()
    if spec.method == "REINVENT":
        info = run_reinvent(oracle, spec.seed, spec.max_updates, spec.learning_rate, spec.max_minutes)
    else:
        info = run_grpo(oracle, spec.seed, max_batches=spec.max_updates, kl_coef=spec.kl_coef,
                        learning_rate=spec.learning_rate, max_minutes=spec.max_minutes, **GRPO_METHODS[spec.method])
    seconds = time.monotonic() - t0
    history = [(int(h.call), str(h.smiles), float(h.reward)) for h in oracle.history]
    s = mm.summary(history, thresholds=THRESHOLDS[spec.oracle], budget=spec.budget, auc_budget=spec.budget)
    return {"seconds": seconds, "calls": oracle.calls, **info, **s, "history": history}


def _write_json_gz(path: Path, payload: dict[str, Any]) -> None:
    """Atomic write (temporary file in the same folder, then rename): a killed run leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb") as gz:
            gz.write(json.dumps(payload).encode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_run(spec: RunSpec, runs_dir: Path | None, any_cap: bool = False) -> dict[str, Any] | None:
    """The stored result of ``spec`` (None when absent, unreadable or made with another spec).

    A run made with another wall-time cap is the same run when that cap did not stop it (it stopped by
    budget or updates), so it is reused; with ``any_cap`` (the report) a run the cap stopped is returned
    too. The result carries the cap it was made with (``max_minutes``) for the table.
    """
    if runs_dir is None:
        return None
    path = spec.path(runs_dir)
    try:
        with gzip.open(path, "rt") as f:
            payload = json.load(f)
    except (OSError, ValueError):
        return None
    stored = payload.get("spec")
    if not isinstance(stored, dict):
        return None
    wanted = asdict(spec)
    if {k: v for k, v in stored.items() if k != "max_minutes"} != {k: v for k, v in wanted.items() if k != "max_minutes"}:
        return None
    result = payload["result"]
    if stored.get("max_minutes") != wanted["max_minutes"] and result.get("stop") == "time" and not any_cap:
        return None
    return {**result, "max_minutes": stored.get("max_minutes")}


def get_run(spec: RunSpec, runs_dir: Path | None, report_only: bool = False) -> dict[str, Any] | None:
    """The stored run of ``spec``, or (unless ``report_only``) a fresh one, stored when ``runs_dir`` is set.

    ``report_only`` also reports runs a wall-time cap stopped, whatever the cap (the table states it)."""
    result = load_run(spec, runs_dir, any_cap=report_only)
    if result is not None or report_only:
        return result
    result = {**one_run(spec), "commit": commit(), "max_minutes": spec.max_minutes}
    if runs_dir is not None:
        _write_json_gz(spec.path(runs_dir), {"spec": asdict(spec), "result": result})
    return result


# ------------------------------------------------------------------------------------------- report
def prior_percentiles(oracle_name: str, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Score percentiles of ``n`` masked prior samples (unique valid molecules), to place the thresholds."""
    from ips_agents.molecules import SmilesPrior
    from ips_envs.smiles.scoring import canonical_smiles, get_oracle

    prior = SmilesPrior.load()
    out = prior.sample(n, masks=True, generator=th.Generator().manual_seed(seed))
    fn = get_oracle(oracle_name)
    canon = {c for s in out.smiles if (c := canonical_smiles(s)) is not None}
    scores = np.array([fn(s) for s in canon])
    return {"n": len(scores), "p50": float(np.percentile(scores, 50)), "p99": float(np.percentile(scores, 99)),
            "max": float(scores.max())}


def _mean(values: Sequence[float], digits: int = 3) -> str:
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return "—"
    if len(arr) == 1:
        return f"{arr[0]:.{digits}f}"
    return f"{arr.mean():.{digits}f} ± {arr.std():.{digits}f}"


def _ob(values: Sequence[int | None]) -> str:
    reached = [v for v in values if v is not None]
    if not reached:
        return f"— (0/{len(values)})"
    return f"{np.mean(reached):.0f} ({len(reached)}/{len(values)})"


def _stops(results: Sequence[dict[str, Any]]) -> str:
    names = [r["stop"] for r in results]
    caps = sorted({r["max_minutes"] for r in results if r["stop"] == "time" and r.get("max_minutes")})
    cap = f" (cap {', '.join(f'{c:g}' for c in caps)} min)" if caps else ""
    return ", ".join(f"{k} {names.count(k)}" + (cap if k == "time" else "")
                     for k in ("budget", "updates", "time") if k in names)


def _repeats(results: Sequence[dict[str, Any]]) -> str:
    key = "repeated_in_group" if "repeated_in_group" in results[0] else "repeated_in_batch"
    return f"{100 * np.mean([r[key] for r in results]):.1f}%"


def best_reinvent(rows: dict[str, list[dict[str, Any]]], t1: float) -> str | None:
    """The REINVENT sweep row with the highest mean Yield@t1 (ties: the first, i.e. the smaller lr)."""
    sweep = [(label, res) for label, res in rows.items() if label.startswith("REINVENT") and res]
    if not sweep:
        return None
    return max(sweep, key=lambda lr: np.mean([r[f"yield@{t1}"] for r in lr[1]]))[0]


def yield_curves(oracle_name: str, rows: dict[str, list[dict[str, Any]]], budget: int, threshold: float) -> Path | None:
    """Plot the mean Yield@threshold against oracle calls for every row; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0, budget, 101)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, results in rows.items():
        if not results:
            continue
        curves = []
        for r in results:
            calls = np.array([c for c, _, reward in r["history"] if reward >= threshold], dtype=float)
            curves.append(np.searchsorted(np.sort(calls), grid, side="right"))
        ax.plot(grid, np.mean(curves, axis=0), label=f"{label} ({len(results)} seeds)")
    ax.set_xlabel("oracle calls")
    ax.set_ylabel(f"unique molecules with reward >= {threshold}")
    ax.set_title(f"{oracle_name}: Yield@{threshold} over the budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = figures_dir() / f"molecules_{oracle_name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def oracle_report(oracle_name: str, rows: dict[str, list[dict[str, Any]]], planned: int, budget: int,
                  kl_coef: float, learning_rate: float, max_updates: int, prior_note: str) -> str:
    """The markdown body of one oracle's section (only rows with at least one finished run)."""
    t1, t2 = THRESHOLDS[oracle_name]
    best = best_reinvent(rows, t1)
    lines = []
    for label, results in rows.items():
        if not results:
            continue
        lines.append([
            label + (" (best lr)" if label == best and sum(k.startswith("REINVENT") and bool(v) for k, v in rows.items()) > 1
                     else ""),
            f"{len(results)}/{planned}",
            _mean([r["calls"] for r in results], 0),
            _mean([r[f"yield@{t1}"] for r in results], 0),
            _mean([r[f"yield@{t2}"] for r in results], 0),
            _ob([r[f"ob100@{t1}"] for r in results]),
            _ob([r[f"ob100@{t2}"] for r in results]),
            _mean([r["auc_top10"] for r in results]),
            _mean([r["avg_top10"] for r in results]),
            _mean([r["internal_diversity"] for r in results]),
            _mean([r["n_scaffolds"] for r in results], 0),
            _mean([r["n_circles"] for r in results], 0),
            _mean([r["updates"] for r in results], 0),
            _mean([r["trajectories"] for r in results], 0),
            _stops(results),
            _repeats(results),
            _mean([r["seconds"] for r in results], 0),
        ])
    header = ["method", "seeds", "calls", f"Yield@{t1:.2f}", f"Yield@{t2:.2f}", f"OB100@{t1:.2f}",
              f"OB100@{t2:.2f}", "AUC top-10", "top-10 mean", f"IntDiv (>= {t1:.2f})", f"scaffolds (>= {t1:.2f})",
              f"#Circles (>= {t1:.2f})", "updates", "sequences", "stopped by", "repeats", "seconds"]
    body = table(header, lines)
    yields = {label: np.mean([r[f"yield@{t1}"] for r in res]) for label, res in rows.items() if res}
    ratios = []
    for a, b in (("IPS-GRPO", "GRPO"), ("IPS-GRPO", "REINVENT lr 1e-4"), ("IPS-GRPO", best),
                 ("IPS-GRPO-trajectory", "GRPO"), ("IPS-GRPO-trajectory-0.1", "GRPO"), ("GRPO", best)):
        if a in yields and b in yields and yields[b] > 0 and (a, b) not in [(x, y) for x, y, _ in ratios]:
            ratios.append((a, b, yields[a] / yields[b]))
    body += "\n\n"
    if ratios:
        body += f"Mean Yield@{t1:.2f} ratios: " + "; ".join(f"{a} / {b} = {v:.2f}" for a, b, v in ratios) + ".\n\n"
    for name in ("IPS-GRPO-trajectory", "IPS-GRPO-trajectory-0.1"):
        traj = rows.get(name) or []
        if traj:
            body += (f"{name}: floor eps {traj[0]['ips_eps']:g}, advantage_norm {traj[0]['advantage_norm']!r}; "
                     f"median log p(tau) of a sampled string {np.mean([r['median_log_p'] for r in traj]):.1f}, "
                     f"share of samples with p(tau) above the floor "
                     f"{100 * np.mean([r['above_floor'] for r in traj]):.2f}%.\n\n")
    body += (
        f"Budget {budget:,} oracle calls per run (new valid canonical molecules), {BATCH} sequences per update "
        f"for every method, at most {max_updates:,} updates per run; thresholds t1 = {t1}, t2 = {t2}. IPS-GRPO "
        f"/ GRPO: SmilesPriorPolicy from the packaged prior, groups {GROUP_SIZE} x {N_GROUPS}, lr {learning_rate:g}, "
        f"kl_coef {kl_coef:g}, no diversity filter or replay; IPS-GRPO uses the count estimator (eps 0.1), "
        "IPS-GRPO-trajectory the probability of the sampled string (its defaults, eps 1e-6 and no std "
        "normalisation; -0.1: eps 0.1 and group-std normalisation as the count estimator). REINVENT: sigma 128, batch 64, Murcko bucket "
        "25 / minscore 0.4, top-50 replay, 10 per step, masked sampling, at the lr of its row (REINVENT4's "
        "default is 1e-4; the best lr is the one with the highest mean Yield@t1). seeds = finished runs / "
        "planned. OB100 = mean calls to the 100th hit over the seeds that reached it (seeds reached / seeds); "
        "IntDiv, scaffolds and #Circles (greedy in generation order, Tanimoto distance > 0.75, Morgan r=2 1024 "
        "bits) are over the unique molecules >= t1. stopped by: budget spent, update cap or "
        "wall-time cap. repeats: share of sampled sequences whose molecule occurs more than once in its group "
        "of 16 (GRPO family: the samples the count estimator re-weights), or duplicate sequences in the batch "
        "(REINVENT). Mean ± std over seeds; seconds on a shared 2-core machine (1 torch thread, nice'd).\n\n"
        f"Prior score distribution: {prior_note}."
    )
    made = sorted({r.get("commit", "unrecorded") for res in rows.values() for r in res})
    body += f" Runs made at commit {', '.join(made)}."
    return body


def run(oracles: Sequence[str], methods: Sequence[str], seeds: int, budget: int, kl_coef: float = KL_COEF,
        learning_rate: float = LEARNING_RATE, reinvent_learning_rates: Sequence[float] = REINVENT_LEARNING_RATES,
        max_updates: int | None = None, max_minutes: float | None = None, runs_dir: Path | None = None,
        report_only: bool = False, plots: bool = True) -> dict[str, tuple[str, list[int]]]:
    """Run (or load) the grid oracles x methods x seeds; return per oracle its markdown body and the seeds
    with at least one finished run."""
    max_updates = default_max_updates(budget) if max_updates is None else max_updates
    bodies = {}
    for oracle_name in oracles:
        rows: dict[str, list[dict[str, Any]]] = {}
        seeds_run: set[int] = set()
        for method in methods:
            lrs = list(reinvent_learning_rates) if method == "REINVENT" else [learning_rate]
            for lr in lrs:
                for seed in range(seeds):
                    spec = RunSpec(method, oracle_name, seed, budget, float(lr),
                                   0.0 if method == "REINVENT" else float(kl_coef), max_updates, max_minutes)
                    rows.setdefault(spec.label, [])
                    r = get_run(spec, runs_dir, report_only)
                    if r is None:
                        continue
                    rows[spec.label].append(r)
                    seeds_run.add(seed)
                    t1, t2 = THRESHOLDS[oracle_name]
                    print(f"{oracle_name} {spec.label} seed {seed}: calls {r['calls']} (stopped by {r['stop']}), "
                          f"yield@{t1} {r[f'yield@{t1}']}, yield@{t2} {r[f'yield@{t2}']}, OB100@{t1} "
                          f"{r[f'ob100@{t1}']}, AUC top-10 {r['auc_top10']:.3f}, IntDiv {r['internal_diversity']:.3f}, "
                          f"scaffolds {r['n_scaffolds']}, {r['updates']} updates, {r['seconds']:.0f} s", flush=True)
        if not any(rows.values()):
            continue
        pct = prior_percentiles(oracle_name)
        note = (f"{pct['n']} unique prior samples score median {pct['p50']:.3f}, 99th percentile {pct['p99']:.3f}, "
                f"max {pct['max']:.3f}")
        body = oracle_report(oracle_name, rows, seeds, budget, kl_coef, learning_rate, max_updates, note)
        if plots:
            path = yield_curves(oracle_name, rows, budget, THRESHOLDS[oracle_name][0])
            if path is not None:
                body += f"\n\nFigure: `benchmarks/figures/{path.name}` (mean Yield@{THRESHOLDS[oracle_name][0]} " \
                        "against oracle calls)."
        bodies[oracle_name] = (body, sorted(seeds_run))
    return bodies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="budget 1,000, 1 seed, both oracles (minutes)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--oracles", nargs="*", default=None, choices=sorted(THRESHOLDS))
    parser.add_argument("--methods", nargs="*", default=None, choices=list(METHODS))
    parser.add_argument("--kl-coef", type=float, default=KL_COEF, help="IPS-GRPO / GRPO KL to the prior")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE, help="IPS-GRPO / GRPO Adam lr")
    parser.add_argument("--reinvent-learning-rates", type=float, nargs="+", default=list(REINVENT_LEARNING_RATES),
                        help="REINVENT Adam lr sweep (REINVENT4's default is 1e-4)")
    parser.add_argument("--max-updates", type=int, default=None,
                        help=f"update cap per run (default {SEQUENCES_PER_CALL} sequences per budgeted call)")
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time cap per run")
    parser.add_argument("--runs-dir", default=None,
                        help=f"store / resume finished runs here (default {RUNS_DIR}; none with --quick)")
    parser.add_argument("--no-store", action="store_true", help="neither read nor write stored runs")
    parser.add_argument("--report-only", action="store_true", help="tables from the stored runs only")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write RESULTS.md")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    budget = args.budget or (1_000 if args.quick else 10_000)
    for name, v in (("--seeds", seeds), ("--budget", budget), ("--threads", args.threads)):
        if v < 1:
            parser.error(f"{name} must be >= 1, got {v}")
    if args.max_updates is not None and args.max_updates < 1:
        parser.error(f"--max-updates must be >= 1, got {args.max_updates}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        parser.error(f"--max-minutes must be > 0, got {args.max_minutes}")
    if any(not lr > 0 for lr in [args.learning_rate, *args.reinvent_learning_rates]):
        parser.error("learning rates must be > 0")
    runs_dir = None if args.no_store else Path(args.runs_dir) if args.runs_dir else None if args.quick else RUNS_DIR
    if args.report_only and runs_dir is None:
        parser.error("--report-only needs stored runs (--runs-dir, and not --no-store)")
    th.set_num_threads(args.threads)
    RDLogger.DisableLog("rdApp.*")
    oracles = args.oracles or list(ORACLES)
    methods = args.methods or list(METHODS)
    bodies = run(oracles, methods, seeds, budget, args.kl_coef, args.learning_rate, args.reinvent_learning_rates,
                 args.max_updates, args.max_minutes, runs_dir, args.report_only, plots=not args.no_write)
    if not bodies:
        print("no finished runs to report")
        return 0
    for oracle_name, (body, seeds_run) in bodies.items():
        print(body)
        if not args.no_write and not args.quick:  # the seeds that ran, not the planned ones (per row: seeds column)
            ran = ", ".join(map(str, seeds_run))
            append_section(section_title(TITLE, oracle_name, args.quick), body,
                           seeds=f"{ran} (of 0..{seeds - 1} planned; finished runs per row in the seeds column)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
