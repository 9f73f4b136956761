"""Write one page per registered ``IPS/`` environment at docs build time: its specification and a picture gallery.

Run by mkdocs-gen-files (see mkdocs.yml). For every id of :data:`ips_envs.registration.ENVS` the page holds

* the specification: the docstring of the module that defines the env (a Gymnasium-style spec: description,
  action space, observation space, rewards, episode end, arguments), or the env class's docstring;
* a gallery: ``render_mode="rgb_array"`` frames of a few seeded episodes (the start state with its task, and
  the object a random legal policy built), written as PNG files into the site. No picture is committed.

Also runnable by hand: ``python docs/scripts/gallery.py OUT_DIR`` writes the PNG files into ``OUT_DIR``.
"""

from __future__ import annotations

import importlib
import inspect
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

import ips_envs  # noqa: F401  (registers the IPS/ ids)
from ips_envs.registration import ENVS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from griffe_rest import rest_to_markdown  # noqa: E402  (the API reference's reST -> Markdown, beside this file)

SEEDS = (0, 1, 2)
ENV_KWARGS: dict[str, dict] = {}
"""Per-id ``gym.make`` arguments for the gallery (the defaults where absent)."""


@dataclass(frozen=True)
class Frame:
    """One picture of the gallery."""

    name: str
    caption: str
    png: bytes


def slug(env_id: str) -> str:
    """``"IPS/CausalDAG-v0"`` -> ``"causaldag-v0"``: the page and picture name of an env."""
    return env_id.split("/", 1)[-1].lower()


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG encoding of an ``(H, W, 3)`` uint8 frame."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


ATTEMPTS = 50
"""Random episodes tried per seed; the gallery shows the best-rewarded object among them."""


def episode_frames(env_id: str, seed: int) -> Iterator[Frame]:
    """The start frame of the seed's task (for seed 0 only when the env has no task: it is the same for every
    seed) and the final frame of the best-rewarded of :data:`ATTEMPTS` episodes of a seeded random legal policy
    on that task."""
    env = gym.make(env_id, render_mode="rgb_array", **ENV_KWARGS.get(env_id, {}))
    try:
        _, info = env.reset(seed=seed)
        task = env.unwrapped.task
        if task or seed == SEEDS[0]:
            yield Frame(f"{slug(env_id)}-seed{seed}-start.png", f"seed {seed}: start", png_bytes(env.render()))
        rng = np.random.default_rng(seed)
        best: tuple[float, str, np.ndarray] | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                _, info = env.reset(options={"task": task})
            reward, done = 0.0, False
            while not done:
                action = int(rng.choice(np.flatnonzero(info["action_mask"])))
                _, reward, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            if best is None or float(reward) > best[0]:
                best = (float(reward), str(info["outcome"]), env.render())
        caption = f"seed {seed}: built `{best[1]}`, reward {best[0]:.3g}"
        yield Frame(f"{slug(env_id)}-seed{seed}-end.png", caption, png_bytes(best[2]))
    finally:
        env.close()


def specification(env_id: str) -> str:
    """The env's specification: the first docstring that documents the id (its first line names it), looked up in
    the module defining the env class, the env class, then the module :data:`ENVS` names."""
    module_name, name = ENVS[env_id]
    module = importlib.import_module(module_name)
    env_class = getattr(module, f"{name}Env")
    candidates = [inspect.getdoc(inspect.getmodule(env_class)), inspect.getdoc(env_class), inspect.getdoc(module)]
    docs = [doc for doc in candidates if doc]
    spec = next((doc for doc in docs if env_id in doc.split("\n", 1)[0]), docs[0] if docs else env_id)
    return rest_to_markdown(spec)


def env_page(env_id: str, frames: list[Frame]) -> str:
    """The Markdown of an env's page: title, summary, gallery, then the specification's sections."""
    spec = specification(env_id)
    first, _, rest = spec.partition("\n")
    summary = _summary(first, env_id)
    module_name, name = ENVS[env_id]
    defining = getattr(importlib.import_module(module_name), f"{name}Env").__module__
    lines = [f"# {env_id}", "", summary, "",
             f"`gym.make(\"{env_id}\")` builds `{module_name}.{name}Env`; `gym.make_vec(\"{env_id}\", num_envs=N)`"
             f" builds `{module_name}.{name}VectorEnv` (one batched kernel). API: "
             f"[`{defining}`](../reference/{defining.replace('.', '/')}{_reference_suffix(defining)}).",
             "", "## Gallery", "",
             "Rendered with `render_mode=\"rgb_array\"` while the site was built: for each seed, the start "
             f"state (with its task) and the best-rewarded of {ATTEMPTS} objects a random legal policy built on that "
             "task.", "",
             '<div class="grid" markdown>', ""]
    for frame in frames:
        lines += ["<figure markdown>", f"![{env_id} {frame.caption}](img/{frame.name}){{ width=\"240\" }}",
                  f"<figcaption>{_html_text(frame.caption)}</figcaption>", "</figure>", ""]
    lines += ["</div>", "", rest.strip(), ""]
    return "\n".join(lines)


def _summary(first_line: str, env_id: str) -> str:
    """The spec's first line without its ``IPS/Name-v0:`` prefix, capitalised."""
    summary = first_line.split(":", 1)[-1].strip() if env_id in first_line else first_line.strip()
    return summary[:1].upper() + summary[1:]


def _html_text(text: str) -> str:
    """Inline code spans in ``text`` as ``<code>`` (figure captions are HTML)."""
    import html

    return re.sub(r"`([^`]*)`", lambda m: f"<code>{m.group(1)}</code>", html.escape(text, quote=False))


def _reference_suffix(module_name: str) -> str:
    """``/index.md`` for a package, ``.md`` for a module (the API reference's page names)."""
    spec = importlib.util.find_spec(module_name)
    return "/index.md" if spec is not None and spec.submodule_search_locations is not None else ".md"


def index_rows() -> list[str]:
    """Table rows for the overview page: id, page link, one-line summary."""
    rows = []
    for env_id in ENVS:
        summary = _summary(specification(env_id).split("\n", 1)[0], env_id)
        rows.append(f"| [`{env_id}`]({slug(env_id)}.md) | {summary} |")
    return rows


def write_site() -> None:
    """Write ``envs/<slug>.md``, ``envs/img/*.png``, the overview table and ``envs/SUMMARY.md`` (mkdocs-gen-files)."""
    import mkdocs_gen_files

    nav = ["* [Overview](index.md)"]
    for env_id in ENVS:
        frames = [frame for seed in SEEDS for frame in episode_frames(env_id, seed)]
        for frame in frames:
            with mkdocs_gen_files.open(f"envs/img/{frame.name}", "wb") as handle:
                handle.write(frame.png)
        with mkdocs_gen_files.open(f"envs/{slug(env_id)}.md", "w") as handle:
            handle.write(env_page(env_id, frames))
        mkdocs_gen_files.set_edit_path(f"envs/{slug(env_id)}.md", Path("..") / "docs" / "scripts" / "gallery.py")
        nav.append(f"* [{env_id}]({slug(env_id)}.md)")
    with mkdocs_gen_files.open("envs/index.md", "a") as handle:
        handle.write("\n## One page per environment\n\n| id | what is built |\n|---|---|\n" + "\n".join(index_rows()) + "\n")
    with mkdocs_gen_files.open("envs/SUMMARY.md", "w") as handle:
        handle.write("\n".join(nav) + "\n")


def main(out: str) -> None:
    """Write the gallery's PNG files into ``out`` (for a look without building the site)."""
    Path(out).mkdir(parents=True, exist_ok=True)
    for env_id in ENVS:
        for seed in SEEDS:
            for frame in episode_frames(env_id, seed):
                (Path(out) / frame.name).write_bytes(frame.png)
                print(out, frame.name, frame.caption)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gallery_out")
elif __name__ == "<run_path>":  # run by mkdocs-gen-files (runpy.run_path); importing writes nothing
    write_site()
