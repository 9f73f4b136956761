"""The torchgfn half of ``benchmarks/torchgfn_compare.py``; runs in a separate interpreter that has torchgfn.

torchgfn 2.4.1 needs ``numpy<2``, which the ips-rl environment does not use, so the comparison script runs
this file with the interpreter named by ``--torchgfn-python`` (``make torchgfn-venv`` builds one) and reads
the one JSON line it prints. It imports only torch, numpy and gfn, never ips-rl.

    python benchmarks/torchgfn_side.py env --ndim 2 --height 8 --batch 256 --seconds 3
    python benchmarks/torchgfn_side.py tb --ndim 2 --height 8 --batch 128 --checkpoints 32000 51200 --seed 0
    python benchmarks/torchgfn_side.py tb --pb uniform ...   # P_B fixed to uniform over parents (no P_B network)
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch


def make_env(ndim: int, height: int):
    from gfn.gym import HyperGrid

    return HyperGrid(ndim=ndim, height=height, validate_modes=False)


def env_throughput(ndim: int, height: int, batch: int, seconds: float, seed: int) -> dict:
    """Env transitions per second with uniformly random legal actions, ``batch`` trajectories at a time."""
    torch.manual_seed(seed)
    env = make_env(ndim, height)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        states = env.reset(batch_shape=(batch,))
        while True:
            active = ~states.is_sink_state
            if not bool(active.any()):
                break
            masks = states.forward_masks.float()
            actions = torch.multinomial(masks, 1)
            actions[~active] = env.dummy_action
            states = env._step(states, env.actions_from_tensor(actions))
            steps += int(active.sum())
    return {"steps_per_s": steps / (time.perf_counter() - start)}


def exact_terminal_distribution(env, pf_module, preprocessor, ndim: int, height: int) -> np.ndarray:
    """P_T of the forward policy over all height**ndim cells (row-major), by a sweep in order of coordinate sum."""
    cells = np.array(list(itertools.product(range(height), repeat=ndim)), dtype=np.int64)
    states = env.states_from_tensor(torch.as_tensor(cells))
    with torch.no_grad():
        logits = pf_module(preprocessor(states))
        logits = logits.masked_fill(~states.forward_masks, float("-inf"))
        probs = torch.softmax(logits, -1).numpy().astype(np.float64)
    index = {tuple(c): i for i, c in enumerate(cells)}
    reach = np.zeros(len(cells))
    reach[0] = 1.0
    terminal = np.zeros(len(cells))
    for i in np.argsort(cells.sum(1), kind="stable"):
        terminal[i] = reach[i] * probs[i, -1]
        for d in range(ndim):
            if cells[i, d] < height - 1:
                nxt = cells[i].copy()
                nxt[d] += 1
                reach[index[tuple(nxt)]] += reach[i] * probs[i, d]
    return terminal


def tb_training(ndim: int, height: int, batch: int, checkpoints: list[int], seed: int, lr: float,
                lr_logz: float, pb: str = "learned") -> dict:
    """torchgfn TB (MLP 2x256 for P_F, learned log Z; P_B an MLP 2x256 or uniform over parents):
    exact sum-L1 and seconds at each checkpoint."""
    from gfn.estimators import DiscretePolicyEstimator
    from gfn.gflownet import TBGFlowNet
    from gfn.preprocessors import KHotPreprocessor
    from gfn.utils.modules import MLP, DiscreteUniform

    torch.manual_seed(seed)
    np.random.seed(seed)
    env = make_env(ndim, height)
    pre = KHotPreprocessor(height=height, ndim=ndim)
    pf_module = MLP(input_dim=pre.output_dim, output_dim=env.n_actions, hidden_dim=256, n_hidden_layers=2)
    if pb == "uniform":
        pb_module = DiscreteUniform(output_dim=env.n_actions - 1)
    else:
        pb_module = MLP(input_dim=pre.output_dim, output_dim=env.n_actions - 1, hidden_dim=256, n_hidden_layers=2)
    pf = DiscretePolicyEstimator(pf_module, env.n_actions, preprocessor=pre, is_backward=False)
    pb = DiscretePolicyEstimator(pb_module, env.n_actions, preprocessor=pre, is_backward=True)
    gfn = TBGFlowNet(pf=pf, pb=pb, init_logZ=0.0)
    logz = [p for n, p in gfn.named_parameters() if "logZ" in n]
    rest = [p for n, p in gfn.named_parameters() if "logZ" not in n]
    optimizer = torch.optim.Adam([{"params": rest, "lr": lr}, {"params": logz, "lr": lr_logz}])
    grid = np.array(list(itertools.product(range(height), repeat=ndim)), dtype=np.int64)
    reward = env.reward(env.states_from_tensor(torch.as_tensor(grid))).numpy().astype(np.float64)
    target = reward / reward.sum()
    out, sampled, train_seconds = [], 0, 0.0
    for stop in sorted(checkpoints):
        start = time.perf_counter()
        while sampled < stop:
            trajectories = gfn.sample_trajectories(env, n=batch, save_logprobs=True)
            optimizer.zero_grad()
            loss = gfn.loss(env, trajectories, recalculate_all_logprobs=False)
            loss.backward()
            optimizer.step()
            sampled += batch
        train_seconds += time.perf_counter() - start
        dist = exact_terminal_distribution(env, pf_module, pre, ndim, height)
        out.append({"trajectories": sampled, "seconds": train_seconds, "l1": float(np.abs(dist - target).sum())})
    return {"checkpoints": out, "iterations": sampled // batch, "ms_per_iteration": 1e3 * train_seconds / (sampled // batch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["env", "tb"])
    parser.add_argument("--ndim", type=int, default=2)
    parser.add_argument("--height", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[32_000, 51_200])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-logz", type=float, default=0.1)
    parser.add_argument("--pb", choices=["learned", "uniform"], default="learned", help="backward policy of TB")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import gfn

    if args.mode == "env":
        result = env_throughput(args.ndim, args.height, args.batch, args.seconds, args.seed)
    else:
        result = tb_training(args.ndim, args.height, args.batch, args.checkpoints, args.seed, args.lr, args.lr_logz,
                             args.pb)
    print(json.dumps({"torchgfn": getattr(gfn, "__version__", "?"), **result}))


if __name__ == "__main__":
    main()
