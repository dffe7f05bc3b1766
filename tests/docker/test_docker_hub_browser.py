"""The class server as a student uses it, in headless Chromium (Debian's, driven by Playwright),
and the instructor's side of a submission with real processes (docs/hub.md).

1. A student logs in through the hub's login form, waits for their server (JupyterLab in the
   ``labchain/lab`` container + their own testnet), opens lab 01's student notebook, runs every
   cell in order from the keyboard (Shift+Enter, waiting for each cell's execution count: no
   menus, whose labels and timing change between JupyterLab versions), saves, and submits from a
   new cell with ``labchain.deploy.hub.exchange.submit``; ``labchain hub gather`` (a real
   process) then hands the instructor the saved notebook with its outputs.
2. ``labchain hub gather`` -> ``labchain-grade collect`` -> ``autograde`` -> ``export``: what the
   hub gathers lands in the instructor's gradebook (all real processes).

Every browser wait has a deadline; a failing step saves a screenshot and the page's HTML under
/tmp and fails naming the step. Unsolved exercises raise NotImplementedError in the student
version: that is what "run the cells in order" gives a student who has not solved them, and
the checks below rely on it (a cell's error output is still a finished cell).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from dockerkit import PREFIX, cleanup
from hubkit import grade, labchain, local_hub, login, run_in_kernel, spawn, user_token
from needs import require, unavailable

pytestmark = pytest.mark.long      # a real hub + browser: `make test-long`

LAB = "01-hashes-merkle"
PASSWORD = "browser horse battery"
SPAWN_MS = 300_000                 # login -> JupyterLab, testnet included (2 loaded cores)
CELL_MS = 180_000                  # one cell (the lab measures this machine's hash rate)
REPO = Path(__file__).resolve().parents[2]
SUBMIT_CELL = (f'from labchain.deploy.hub.exchange import submit; '
               f'print("submitted", submit("{LAB}", "{LAB}.ipynb"))')

# JupyterLab 4 may window a long notebook (cells far from the view leave the DOM), so cells are
# not found by index: the active cell is marked before Shift+Enter runs it, and it is finished
# when its prompt shows a number and the kernel is idle (only one cell is ever queued)
MARK_ACTIVE = """(i) => {
  const cell = document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active');
  if (!cell) return false;
  cell.dataset.hubbrowser = String(i);
  return true;
}"""
CELL_DONE = """(i) => {
  const idle = !!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
  const cell = document.querySelector(`.jp-Notebook .jp-Cell[data-hubbrowser="${i}"]`);
  if (!cell) return idle;                   // windowed out of the DOM: the kernel's state tells
  if (!cell.classList.contains('jp-CodeCell')) return true;
  const prompt = cell.querySelector('.jp-InputPrompt');
  return idle && !!prompt && /\\[\\d+\\]/.test(prompt.textContent);
}"""
# the run began: a code cell's prompt left "[ ]" (a press before the kernel connected is lost)
CELL_STARTED = """(i) => {
  const cell = document.querySelector(`.jp-Notebook .jp-Cell[data-hubbrowser="${i}"]`);
  if (!cell || !cell.classList.contains('jp-CodeCell')) return true;
  const prompt = cell.querySelector('.jp-InputPrompt');
  return !!prompt && /\\[(\\*|\\d+)\\]/.test(prompt.textContent);
}"""


@pytest.fixture(scope="module")
def students():
    return [f"{PREFIX}-web1", f"{PREFIX}-web2"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client, lab_image, students):
    require("root")
    if shutil.which("configurable-http-proxy") is None:
        unavailable("docker", "configurable-http-proxy is not installed (.ci/system-setup.sh installs it)")
    try:
        with local_hub(tmp_path_factory.mktemp("webhub"), lab_image.tag, students, PASSWORD, 18400,
                       nodes=3) as settings:
            yield settings
    finally:
        cleanup(docker_client, students)



class Steps:
    """Runs named steps on a page; a failing one leaves /tmp/hubbrowser-<n>.png and .html."""

    def __init__(self, page):
        self.page = page

    def __call__(self, what: str, action):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - re-raised with the evidence's paths
            stem = Path(f"/tmp/hubbrowser-{os.getpid()}-{int(time.time())}")
            try:
                self.page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(self.page.content(), encoding="utf-8")
            except Exception:  # noqa: BLE001 - the page may be gone; the message still says what failed
                pass
            raise AssertionError(f"browser step '{what}' failed at {self.page.url}: "
                                 f"{type(exc).__name__}: {exc} (screenshot {stem}.png, page {stem}.html)") from exc


def run_started(page, i: int, tries: int = 3) -> None:
    """Wait until cell ``i`` began running; if its prompt stayed "[ ]", select it and press again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        try:
            page.wait_for_function(CELL_STARTED, arg=i, timeout=15_000)
            return
        except PlaywrightTimeout:
            page.locator(f'.jp-Notebook .jp-Cell[data-hubbrowser="{i}"] .jp-InputPrompt').click()
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Enter")
    page.wait_for_function(CELL_STARTED, arg=i, timeout=15_000)


@pytest.mark.timeout(1500)
def test_a_student_logs_in_runs_lab01_in_jupyterlab_and_submits_and_the_instructor_gathers_it(
        hub, browser, students, tmp_path):
    student, base = students[0], hub.public_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    step = Steps(page)
    try:
        def log_in():
            page.goto(f"{base}/hub/login")
            page.fill("input[name=username]", student)
            page.fill("input[name=password]", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url("**/hub/**")
            assert "/hub/login" not in page.url, "the login form came back (password refused?)"
        step("log in through the hub's form", log_in)

        def reach_lab():
            page.goto(f"{base}/hub/spawn/{student}")       # spawn-pending page, then JupyterLab
            page.wait_for_url(f"**/user/{student}/lab**", timeout=SPAWN_MS)
            page.goto(f"{base}/user/{student}/lab/tree/{LAB}/{LAB}.ipynb")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
            page.wait_for_selector('.jp-StatusBar-TextItem >> text=/\\| Idle/', timeout=120_000)
        step("spawn the server and open lab 01 with an idle kernel", reach_lab)

        model = page.request.get(f"{base}/user/{student}/api/contents/{LAB}/{LAB}.ipynb")
        assert model.ok, f"the contents API answered {model.status}"
        cells = len(model.json()["content"]["cells"])
        assert cells > 20, f"lab 01's notebook has {cells} cells"
        step("select the first cell", lambda: (page.locator(".jp-Notebook .jp-Cell").first.click(),
                                               page.keyboard.press("Escape")))
        for i in range(cells):
            step(f"find the active cell ({i + 1})", lambda: page.wait_for_function(MARK_ACTIVE, arg=i, timeout=30_000))
            page.keyboard.press("Shift+Enter")
            step(f"start cell {i + 1} of {cells}", lambda: run_started(page, i))
            step(f"run cell {i + 1} of {cells}",
                 lambda: page.wait_for_function(CELL_DONE, arg=i, timeout=CELL_MS))
        step("the kernel goes idle", lambda: page.wait_for_selector(
            '.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=CELL_MS))

        def save():
            page.keyboard.press("Control+s")
            page.wait_for_selector(".lm-TabBar-tab.jp-mod-dirty", state="detached", timeout=60_000)
            time.sleep(1)   # noqa: the save request's answer is what clears the dirty mark; be sure
        step("save the notebook (Ctrl+S)", save)

        def submit():
            # the last Shift+Enter left a new empty cell in edit mode at the end
            page.keyboard.insert_text(SUBMIT_CELL)
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(f'.jp-OutputArea-output:has-text("/srv/submit/{LAB}/")',
                                   timeout=CELL_MS)
        step("submit from a new cell", submit)
    finally:
        page.close()

    out = tmp_path / "incoming"
    labchain("hub", "gather", out)
    got = json.loads((out / student / LAB / f"{LAB}.ipynb").read_text(encoding="utf-8"))
    assert (out / student / LAB / "timestamp.txt").is_file()
    code = [c for c in got["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert len(code) >= 20 and all(c["execution_count"] for c in code), \
        "the gathered notebook is not the one the student ran and saved"
    printed = "".join("".join(o.get("text", "")) for c in code for o in c["outputs"])
    assert "b'labchain'" in printed                       # the hashing cell's output, from the browser run
    errors = {o["ename"] for c in code for o in c["outputs"] if o["output_type"] == "error"}
    assert errors == {"NotImplementedError"}, errors    # unsolved exercises, and nothing else broke


@pytest.mark.timeout(1200)
def test_what_hub_gather_produces_is_collected_and_graded_into_the_instructors_gradebook(
        hub, students, tmp_path):
    student = students[1]
    assert login(hub.public_url, student, PASSWORD).login_status == 302   # the hub user exists from here
    spawn(hub, student)
    out = run_in_kernel(hub.public_url, student, user_token(hub, student),
                        f"import os; os.chdir('/home/student/labs/{LAB}'); {SUBMIT_CELL}").strip()
    assert out.startswith(f"submitted /srv/submit/{LAB}/") and out.endswith(f"/{LAB}.ipynb")  # <stamp>/
    incoming = tmp_path / "incoming"
    said = labchain("hub", "gather", incoming)
    assert student in said
    labs = tmp_path / "labs"
    shutil.copytree(REPO / "labs" / LAB, labs / LAB)
    course = tmp_path / "course"
    grade("init", course, "--labs-dir", labs)
    grade("generate", "--course", course)
    said = grade("collect", "--course", course, incoming)
    assert "failed 0" in said and (course / "submitted" / student / LAB / f"{LAB}.ipynb").is_file()
    grade("autograde", LAB, "--course", course, "--sandbox", "os")   # every gathered student
    grade("export", "--course", course, "--format", "canvas")
    rows = {r[0]: r for r in csv.reader((course / "exports" / "grades-canvas.csv").open())}
    assert rows[student][-1] == "0"            # graded: the untouched student version scores nothing
    assert rows["    Points Possible"][-1] == "20"
