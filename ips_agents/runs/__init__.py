"""Runs: the one table of run settings (:class:`~ips_agents.runs.config.RunConfig`), training into run folders
with atomic checkpoints, locks and resuming (:mod:`~ips_agents.runs.training`, :mod:`~ips_agents.runs.files`),
sweeps (:mod:`~ips_agents.runs.sweep`) as units of work (:mod:`~ips_agents.runs.units`), training with exact
evaluation at checkpoints (:mod:`~ips_agents.runs.tracking`) and the demo (:mod:`~ips_agents.runs.demo`)."""

from ips_agents.runs.config import ALGOS, RunConfig, run_defaults
from ips_agents.runs.files import RunLocked
from ips_agents.runs.training import ResumeConflict, RunInterrupted, load_run, train_run

__all__ = ["ALGOS", "ResumeConflict", "RunConfig", "RunInterrupted", "RunLocked", "load_run", "run_defaults",
           "train_run"]
