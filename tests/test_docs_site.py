"""The documentation site: it builds with warnings as errors, the API reference covers every public class and
function, the env gallery is generated, and the main pages load in headless Chromium with no console errors and
no broken internal links (screenshots saved as artifacts).

`make docs` builds the site and runs this file against it (``IPS_DOCS_SITE=site``); run alone, the file builds
the site itself into a temporary folder. Needs the ``docs`` extra (``pip install -e ".[docs]"``); the browser
test also needs Debian's ``chromium`` and ``chromium-driver`` (``make docs`` installs them when run as root) and
is skipped without them, except where ``CI`` or ``IPS_DOCS_REQUIRE_BROWSER`` is set: there it fails.
"""

from __future__ import annotations

import functools
import html
import http.server
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isolated_process import run_process

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]'; make docs)")
griffe = pytest.importorskip("griffe", reason="the docs extra is not installed (pip install -e '.[docs]')")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "scripts"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("IPS_DOCS_ARTIFACTS", ROOT / "docs_artifacts"))
MAIN_PAGES = ["", "getting-started/", "envs/", "envs/causaldag-v0/", "envs/smiles-v0/", "guide/ips-grpo/",
              "guide/other-libraries/", "guide/language-models/", "guide/molecules/", "guide/cli/", "results/",
              "results/report/", "reference/ips_envs/", "reference/ips_agents/", "reference/ips_envs/wrappers/"]
"""Pages the browser loads (relative to the site root)."""
BUILD_ENV = {"DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``$IPS_DOCS_SITE`` (what ``make docs`` built), else a fresh ``mkdocs build --strict``."""
    given = os.environ.get("IPS_DOCS_SITE")
    if given:
        path = Path(given) if Path(given).is_absolute() else ROOT / given
        assert (path / "index.html").exists(), f"IPS_DOCS_SITE={given} holds no built site"
        return path
    out = tmp_path_factory.mktemp("site")
    run = run_process([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                      env={**os.environ, **BUILD_ENV}, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    return out


def _page_text(path: Path) -> str:
    """The visible text of an HTML page (tags dropped, entities decoded, whitespace collapsed)."""
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def public_objects() -> Iterator[tuple[str, str, str]]:
    """(module path, object path, docstring) of every public class and function of ips_envs and ips_agents,
    found statically (griffe) in the modules the reference documents."""
    from gen_api import PACKAGES, public_modules

    documented = {".".join(parts) for package in PACKAGES for parts in public_modules(package)}
    for package in PACKAGES:
        stack = [griffe.load(package, search_paths=[str(ROOT)], allow_inspection=False)]
        while stack:
            module = stack.pop()
            for name, member in module.members.items():
                if name.startswith("_") or member.is_alias:
                    continue
                if member.is_module:
                    stack.append(member)
                elif (member.is_class or member.is_function) and module.path in documented:
                    yield module.path, member.path, member.docstring.value if member.docstring else ""


def test_api_reference_has_every_public_class_and_function_with_its_docstring(site: Path) -> None:
    from griffe_rest import rest_to_markdown

    objects = list(public_objects())
    assert len(objects) > 100
    missing, without_doc = [], []
    pages: dict[str, tuple[str, str]] = {}
    for module, path, doc in objects:
        if module not in pages:
            page = site / "reference" / Path(*module.split(".")) / "index.html"
            pages[module] = (page.read_text(encoding="utf-8"), _page_text(page)) if page.exists() else ("", "")
        raw, text = pages[module]
        if f'id="{path}"' not in raw:
            missing.append(path)
            continue
        words = re.findall(r"[A-Za-z]{4,}", rest_to_markdown(doc).split("\n\n")[0])[:4]
        if not all(word in text for word in words):
            without_doc.append(path)
    assert not missing, f"{len(missing)} public objects are not in the API reference: {missing[:20]}"
    assert not without_doc, f"docstrings not shown for: {without_doc[:20]}"


def test_reference_pages_of_modules_with_optional_extras_are_built(site: Path) -> None:
    """Modules that import TRL / TorchRL / Tianshou are documented by static analysis, extras or not."""
    for module in ("ips_agents/integrations/torchrl", "ips_agents/integrations/tianshou",
                   "ips_agents/integrations/trl"):
        page = site / "reference" / module / "index.html"
        assert page.exists(), f"no reference page {module}"
    assert 'id="ips_agents.integrations.torchrl.make_torchrl_env"' in \
        (site / "reference/ips_agents/integrations/torchrl/index.html").read_text(encoding="utf-8")


def test_env_pages_have_their_spec_and_a_generated_gallery(site: Path) -> None:
    from gallery import slug

    from ips_envs.registration import ENVS

    for env_id in ENVS:
        page = site / "envs" / slug(env_id) / "index.html"
        assert page.exists(), f"no page for {env_id}"
        assert len(_pictures(page)) >= 4, f"{env_id}: gallery has {len(_pictures(page))} pictures"
        text = _page_text(page)
        for section in ("Action space", "Observation space", "Episode end"):
            assert section in text, f"{env_id}: the spec has no {section!r} section"


def test_results_page_embeds_the_benchmark_figures(site: Path) -> None:
    shown = {Path(src).name for src in _pictures(site / "results" / "report" / "index.html")}
    assert shown >= {"path_multiplicity.png", "hypergrid_2d_h8_l1.png"}, shown


def _pictures(page: Path) -> list[str]:
    """The PNG pictures an HTML page shows; fails on one whose file is not in the site."""
    sources = re.findall(r'<img[^>]+src="([^"]+\.png)"', page.read_text(encoding="utf-8"))
    missing = [src for src in sources if not (page.parent / src).resolve().exists()]
    assert not missing, f"{page}: pictures not in the site: {missing}"
    return sources


# --- the browser test -----------------------------------------------------------------------------------------

def _require_browser() -> None:
    """Skip (or fail under CI / IPS_DOCS_REQUIRE_BROWSER) without Debian's chromium and chromium-driver."""
    problems = [f"{path} is missing" for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("selenium is not installed (pip install -e '.[docs]')")
    if problems:
        reason = ("browser test needs Debian's chromium + chromium-driver and selenium "
                  f"(apt-get install -y chromium chromium-driver; make docs does it as root): {'; '.join(problems)}")
        if os.environ.get("CI") or os.environ.get("IPS_DOCS_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site served over HTTP on 127.0.0.1 (a free port) for the duration of the tests."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def _chromium():
    """Headless Chromium driven through Debian's chromedriver (no browser download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def _status(url: str) -> int:
    """HTTP status of ``url`` (a HEAD-like GET of the local server)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_main_pages_in_headless_chromium(served: str) -> None:
    _require_browser()
    from selenium.webdriver.common.by import By

    shots = ARTIFACTS / "screenshots"
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    driver = _chromium()
    errors, broken_images, links = [], [], set()
    try:
        for page in MAIN_PAGES:
            driver.get(served + page)
            assert driver.find_elements(By.CSS_SELECTOR, "article h1"), f"{page or 'home'}: no title"
            errors += [f"{page or 'home'}: {entry['message']}" for entry in driver.get_log("browser")
                       if entry["level"] == "SEVERE"]
            broken_images += [f"{page or 'home'}: {src}" for src in driver.execute_script(
                "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")]
            for anchor in driver.find_elements(By.CSS_SELECTOR, "a[href]"):
                href = urllib.parse.urldefrag(anchor.get_attribute("href") or "")[0]
                if href.startswith(served):
                    links.add((page or "home", href))
            driver.save_screenshot(str(shots / f"{(page.strip('/') or 'home').replace('/', '_')}.png"))
    finally:
        driver.quit()
    assert not errors, "console errors:\n" + "\n".join(errors)
    assert not broken_images, "images that did not load:\n" + "\n".join(broken_images)
    statuses = {href: _status(href) for href in {href for _, href in links}}
    broken = sorted(f"{page} -> {href} ({statuses[href]})" for page, href in links if statuses[href] != 200)
    assert len(statuses) > 50 and not broken, "broken internal links:\n" + "\n".join(broken)


def test_importing_the_generators_writes_nothing_into_docs() -> None:
    """The generators write pages only inside a build (mkdocs-gen-files' temporary folder), never into docs/."""
    import gallery  # noqa: F401
    import gen_api  # noqa: F401

    generated = [path for path in ("reference", "envs/img", "envs/SUMMARY.md", "results/report.md")
                 if (ROOT / "docs" / path).exists()]
    assert not generated, f"generated files in docs/: {generated}"


def test_rest_constructs_of_the_docstrings_become_markdown() -> None:
    from griffe_rest import rest_to_markdown

    text = """Summary with :class:`~ips_agents.IPSGRPO` and :func:`ips_envs.make`.

====== =====
preset key
====== =====
"a"    ``x``
"b"    ``y``
====== =====

Example::

    env = make()
    env.reset()

After."""
    out = rest_to_markdown(text)
    assert "`IPSGRPO`" in out and "`ips_envs.make`" in out and ":class:" not in out
    assert "| preset | key |\n|---|---|\n| \"a\" | ``x`` |\n| \"b\" | ``y`` |" in out
    assert "Example:\n\n```python\nenv = make()\nenv.reset()\n```" in out and out.rstrip().endswith("After.")
