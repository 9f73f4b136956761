"""Model files: zips and run folders written before the package layout still load and predict the same, and loading
a model file never runs code from it (allow-list unpickler); hand-edited fields are clear errors."""

from __future__ import annotations

import base64
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch as th

from ips_agents import GRPO, IPSGRPO
from ips_agents.algorithms.model_files import SafeUnpickler, UnsafeModelFile
from ips_agents.cli import main
from ips_agents.runs.training import load_run

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
EXPECTED = json.loads((LEGACY / "expected_actions.json").read_text())
CLASSES = {"IPSGRPO": IPSGRPO, "GRPO": GRPO}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zips_from_the_flat_layout_load_and_predict_the_same(name):
    spec = EXPECTED[name]
    model = CLASSES[spec["algo"]].load(LEGACY / name)
    for probe in spec["probes"]:
        obs = np.asarray(probe["obs"], dtype=np.float32)
        mask = np.asarray(probe["mask"], dtype=bool)
        action, _ = model.predict(obs, deterministic=True, action_masks=mask)
        assert int(action) == probe["action"]
        with th.no_grad():
            probs = model.policy.action_probs(th.as_tensor(obs[None]), mask[None])[0].numpy()
        np.testing.assert_allclose(probs, probe["probs"], rtol=1e-5, atol=1e-7)


def test_a_run_folder_from_the_flat_layout_evaluates_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(LEGACY / "run", run)
    config, model = load_run(run)
    assert config.policy == "auto" and model.num_timesteps == 336
    assert main(["eval", str(run), "--samples", "50"]) == 0
    assert "exact tv" in capsys.readouterr().out
    assert main(["train", "--out", str(run), "--resume", "--timesteps", "500", "--no-progress"]) == 0
    assert load_run(run)[1].num_timesteps >= 500


def test_a_new_save_holds_no_pickled_random_state(tmp_path):
    model = IPSGRPO("MlpPolicy", "IPS/PathMultiplicity-v0", group_size=4, n_groups=2, seed=0,
                    policy_kwargs={"net_arch": [8]})
    model.learn(64)
    model.save(tmp_path / "m.zip")
    data = json.loads(zipfile.ZipFile(tmp_path / "m.zip").read("data"))
    assert isinstance(data["_random_state"], dict) and ":serialized:" not in data["_random_state"]
    model.learn(64, reset_num_timesteps=False)
    again = IPSGRPO.load(tmp_path / "m.zip", env="IPS/PathMultiplicity-v0")  # puts every generator back
    again.learn(64, reset_num_timesteps=False)
    for a, b in zip(model.policy.parameters(), again.policy.parameters(), strict=True):
        assert th.equal(a, b)  # the generators were restored from JSON: training continues identically


class _Boom:
    """A pickled call: unpickling it would create a file (what a malicious zip would do with os.system)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            raw = zin.read(item.filename)
            if item.filename == "data":
                data = json.loads(raw)
                edit(data)
                raw = json.dumps(data).encode()
            zout.writestr(item, raw)
    return dst


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    model = IPSGRPO("MlpPolicy", "IPS/PathMultiplicity-v0", group_size=4, n_groups=2, seed=0,
                    policy_kwargs={"net_arch": [8]})
    model.learn(64)
    path = tmp_path_factory.mktemp("zip") / "model.zip"
    model.save(path)
    return path


@pytest.mark.parametrize("field", ["_random_state", "lr_schedule", "observation_space"])
def test_a_zip_with_a_pickled_call_is_refused_and_runs_nothing(saved, tmp_path, field, capsys):
    marker = tmp_path / "pwned"
    payload = base64.b64encode(pickle.dumps(_Boom(str(marker)))).decode()
    bad = _rewrite(saved, tmp_path / "bad.zip", lambda d: d.__setitem__(field, {":type:": "x", ":serialized:": payload}))
    with pytest.raises(UnsafeModelFile, match=f"field '{field}' refers to pathlib"):
        IPSGRPO.load(bad)
    assert not marker.exists()
    run = tmp_path / "run"
    shutil.copytree(LEGACY / "run", run)
    shutil.copy(bad, run / "model.zip")
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "may not hold" in err and not marker.exists()


def test_the_unpickler_allows_what_sb3_writes_and_nothing_else():
    ok = pickle.dumps({"a": np.arange(3), "d": __import__("collections").deque([1, 2])})
    assert SafeUnpickler(__import__("io").BytesIO(ok)).load()["a"].tolist() == [0, 1, 2]
    for forbidden in (pickle.dumps(print), pickle.dumps(__import__("os").getcwd), pickle.dumps(eval)):
        with pytest.raises(UnsafeModelFile):
            SafeUnpickler(__import__("io").BytesIO(forbidden)).load()


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.__setitem__("num_timesteps", "x"), "num_timesteps"),
    (lambda d: d.__setitem__("num_timesteps", -5), "num_timesteps"),
    (lambda d: d.__setitem__("_random_state", [1, 2]), "_random_state"),
    (lambda d: d.__setitem__("_random_state", {"torch": 1}), "_random_state"),
])
def test_hand_edited_fields_are_clear_errors(saved, tmp_path, edit, match):
    bad = _rewrite(saved, tmp_path / "bad.zip", edit)
    with pytest.raises(ValueError, match=match):
        IPSGRPO.load(bad)


def test_a_zip_whose_data_is_not_an_object_is_refused(saved, tmp_path):
    bad = tmp_path / "list.zip"
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, b"[1, 2]" if item.filename == "data" else zin.read(item.filename))
    with pytest.raises(ValueError, match="JSON object"):
        IPSGRPO.load(bad)
