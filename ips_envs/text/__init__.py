"""Text faces of the construction envs: prompts for language models and parsers of their answers.

::

    from ips_envs.text import face

    f = face("IPS/CausalDAG-v0")                 # the same arguments as gymnasium.make(env_id, ...)
    task = f.kernel.all_tasks()[0]
    print(f.prompt(task))                        # HypoSpace's prompt, answer format "Graph: A->B, B->C"
    r = f.parse("I think...\\nGraph: A->B, A->C\\n", task)
    r.outcome, r.valid, r.reason                 # the env's outcome key (or None), validity, why not valid

``parse`` returns the same canonical key the Gymnasium env reports at the end of an episode that builds the
same object, so ``f.admissible_outcomes(task)`` and :mod:`ips_agents.evaluation` apply unchanged. Faces exist
for ``IPS/CausalDAG-v0``, ``IPS/Voxel3D-v0``, ``IPS/BooleanExpr-v0`` and ``IPS/SMILES-v0`` (see each module
for its answer format and where it is stricter than HypoSpace's parser).
"""

from __future__ import annotations

import importlib
from typing import Any

from ips_envs.registration import ENVS
from ips_envs.text.base import ParseResult, TextFace
from ips_envs.text.boolean_expr import BooleanExprFace
from ips_envs.text.causal_dag import CausalDAGFace
from ips_envs.text.smiles import SMILESFace
from ips_envs.text.voxel import Voxel3DFace

FACES: dict[str, type[TextFace]] = {
    cls.env_id: cls for cls in (CausalDAGFace, Voxel3DFace, BooleanExprFace, SMILESFace)
}
"""Env id -> its text face class."""


def face(env_id: str, **env_kwargs: Any) -> TextFace:
    """The text face of ``env_id`` built with the env's own kernel (``env_kwargs`` as for ``gymnasium.make``).

    ``task=`` sets the task used when ``prompt`` / ``parse`` get no task; ``render_mode`` and ``strict`` are
    accepted and ignored. Raises ValueError for an id without a text face or bad env arguments.
    """
    if env_id not in FACES:
        raise ValueError(f"no text face for {env_id!r}; text faces exist for {sorted(FACES)}")
    module, name = ENVS[env_id]
    env_class = getattr(importlib.import_module(module), f"{name}Env")
    env = env_class(**env_kwargs)
    return FACES[env_id](env.kernel, env.fixed_task)


__all__ = ["FACES", "BooleanExprFace", "CausalDAGFace", "ParseResult", "SMILESFace", "TextFace", "Voxel3DFace",
           "face"]
