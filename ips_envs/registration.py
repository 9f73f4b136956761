"""The ``IPS/`` ids: one place that lists every environment of the suite."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

# id -> module holding ``<Name>Env`` and ``<Name>VectorEnv``
ENVS: dict[str, tuple[str, str]] = {
    "IPS/HyperGrid-v0": ("ips_envs.hypergrid", "HyperGrid"),
    "IPS/PathMultiplicity-v0": ("ips_envs.path_multiplicity", "PathMultiplicity"),
    "IPS/CausalDAG-v0": ("ips_envs.causal_dag", "CausalDAG"),
    "IPS/Voxel3D-v0": ("ips_envs.voxel", "Voxel3D"),
    "IPS/BooleanExpr-v0": ("ips_envs.boolean_expr", "BooleanExpr"),
    "IPS/SMILES-v0": ("ips_envs.smiles", "SMILES"),
}


def register_all() -> None:
    """Register every id (idempotent: ids already registered are left alone)."""
    for env_id, (module, name) in ENVS.items():
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"{module}:{name}Env",
            vector_entry_point=f"{module}:{name}VectorEnv",
        )
