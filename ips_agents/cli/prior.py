"""``ips-rl prior ...``: train and inspect the GRU SMILES prior (:mod:`ips_agents.molecules.prior`).

Wire into :mod:`ips_agents.cli` with ``add_prior_parser(sub)`` in ``build_parser`` and
``if args.command == "prior": return run_prior(args)`` in ``main``.

    ips-rl prior train --out ips_agents/data/smiles_prior.pt --minutes 40 --seed 0
    ips-rl prior sample --n 10 --masked
"""

from __future__ import annotations

import argparse
from typing import Any


def add_prior_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prior`` command (subcommands ``train`` and ``sample``) to an argparse subparsers object."""
    prior = subparsers.add_parser("prior", help="train or sample the GRU SMILES prior of IPS/SMILES-v0")
    sub = prior.add_subparsers(dest="prior_command", required=True)

    train = sub.add_parser(
        "train",
        help="train a prior on MOSES SMILES (needs the data wheel: pip install --no-deps molsets)",
        description="Train the GRU SMILES prior on a seeded random subset of MOSES train.csv.gz, written in the "
                    "env's kekulé tokens; needs `pip install --no-deps molsets` (data only).",
    )
    train.add_argument("--out", required=True, help="checkpoint path, e.g. smiles_prior.pt")
    train.add_argument("--n-molecules", type=int, default=200_000, help="MOSES subset size (0 = all 1.58 M)")
    train.add_argument("--minutes", type=float, default=40.0, help="wall-time budget (0 = no limit)")
    train.add_argument("--epochs", type=float, default=None, help="optional cap on passes over the subset")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument("--no-progress", action="store_true")

    sample = sub.add_parser("sample", help="print SMILES sampled from a prior and their RDKit validity")
    sample.add_argument("--path", default=None, help="checkpoint (default: the packaged prior)")
    sample.add_argument("--n", type=int, default=10)
    sample.add_argument("--masked", action="store_true", help="sample under the env's grammar masks")
    sample.add_argument("--max-length", type=int, default=60)
    sample.add_argument("--seed", type=int, default=0)
    return prior


def run_prior(args: argparse.Namespace) -> int:
    """Run the ``prior`` command parsed by :func:`add_prior_parser`; returns the exit code."""
    import torch as th

    from ips_agents.molecules.prior import SmilesPrior
    from ips_agents.molecules.prior_training import train_prior, validity

    if args.prior_command == "train":
        if args.threads < 1:
            raise SystemExit(f"--threads must be >= 1, got {args.threads}")
        th.set_num_threads(args.threads)
        if args.n_molecules < 0:
            raise SystemExit(f"--n-molecules must be >= 0, got {args.n_molecules}")
        minutes = args.minutes if args.minutes and args.minutes > 0 else None
        if minutes is None and args.epochs is None:
            raise SystemExit("give --minutes > 0 or --epochs, otherwise training never stops")
        try:
            meta = train_prior(args.out, n_molecules=args.n_molecules or None, minutes=minutes, seed=args.seed,
                               batch_size=args.batch_size, lr=args.lr, epochs=args.epochs,
                               progress=not args.no_progress)
        except ModuleNotFoundError as e:
            raise SystemExit(str(e)) from e
        print(f"validity of {meta['n_validity_samples']} unmasked samples: {meta['validity_unmasked']:.1%}")
        return 0
    if args.prior_command == "sample":
        if args.n < 1:
            raise SystemExit(f"--n must be >= 1, got {args.n}")
        model = SmilesPrior.load(args.path)
        gen = th.Generator().manual_seed(args.seed)
        out = model.sample(args.n, max_length=args.max_length, masks=args.masked, generator=gen)
        for s, lp in zip(out.smiles, out.log_probs.tolist(), strict=True):
            print(f"{lp:9.2f}  {s}")
        print(f"validity: {validity(out.smiles):.1%} ({'masked' if args.masked else 'unmasked'})")
        return 0
    raise SystemExit(f"unknown prior command {args.prior_command!r}")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m ips_agents.cli.prior train ...``."""
    parser = argparse.ArgumentParser(prog="ips-rl")
    add_prior_parser(parser.add_subparsers(dest="command", required=True))
    return run_prior(parser.parse_args(["prior", *(argv if argv is not None else __import__("sys").argv[1:])]))


if __name__ == "__main__":
    raise SystemExit(main())
