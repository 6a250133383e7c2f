"""The web console in a real browser (headless chromium through selenium) against a real
`kanban-bridge serve --http`, and the Lanes tab in a real `hermes dashboard` (docs/CONSOLE.md).

Workers are played over the wire with pyzmq, so what the page shows comes from real claims. Every
wait is bounded; a missing browser fails these tests (scripts/setup installs it), it never skips.
Screenshots go to .build/console-screenshots/.
"""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import BIN, REPO, Bridge, _start, _stop, assert_no_secrets, clean_env, free_port, ok, wait_for

SHOTS = REPO / ".build" / "console-screenshots"
HERMES = REPO / ".venv" / "bin" / "hermes"
WAIT_S = 10        # any page change the test waits for
LIVE_WAIT_S = 1.5  # "within a second" for a claim to show up live, plus the page's 250 ms coalescing
CAPS = "kanban:\n  max_in_progress: 8\n  max_spawn: 3\n"


def find_browser():
    """Debian's chromium and its driver; a clear failure (not a skip) when they are missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromium-driver are required (scripts/setup installs them with apt)")
    return chromium, driver


@pytest.fixture
def browser():
    chromium, driver_path = find_browser()
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    # The driver path is given, so selenium's own manager never tries to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_http(url, deadline_s=30):
    def answers():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    wait_for(answers, f"{url} answers 200", timeout_s=deadline_s)


class Console:
    """A coordinator with its HTTP face, a lane `pool` (max 3) with two claims live and three tasks
    queued, and the tokens to drive it."""

    def __init__(self, tmp_path):
        # Hermes' dispatcher caps, read by `serve` from $HERMES_HOME/config.yaml.
        hermes_home = tmp_path / "hermes-caps"
        hermes_home.mkdir()
        (hermes_home / "config.yaml").write_text(CAPS)
        self.port = free_port()
        self.proc, cmd_ep, evt_ep, db, log = _start(tmp_path, extra=("--http", f"127.0.0.1:{self.port}"),
                                                    hermes_home=hermes_home)
        self.admin_token = (tmp_path / "admin.token").read_text().strip()
        self.bridge = Bridge(cmd_ep, evt_ep, db, self.admin_token, log, pid=self.proc.pid)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.lane_token = None
        try:
            wait_http(self.url + "healthz")
            self.lane_token = self.bridge.register_lane("pool", max_concurrency=3)
            self.tasks = [self.bridge.admin("task.create", title=f"Widget {i}", assignee="pool")["task"]["id"]
                          for i in range(5)]
            self.claims = [self.claim(), self.claim()]
        except BaseException:
            _stop(self.proc)  # a board that could not be set up leaves no coordinator behind
            raise

    def claim(self):
        """One claim over the wire as the lane's worker: (task id, claim token)."""
        result = ok(self.bridge.call("claim", auth=self.lane_token, lane="pool", lease_seconds=600))
        return result["task"]["id"], result["claim"]["token"]

    def lanes_json(self):
        req = urllib.request.Request(self.url + "api/lanes", headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        _stop(self.proc)
        assert_no_secrets(self.bridge.log_path, known=[self.admin_token, self.lane_token])


@pytest.fixture
def console(tmp_path, monkeypatch):
    c = Console(tmp_path)
    try:
        yield c
    finally:
        c.stop()


def log_in(driver, console, token):
    driver.get(console.url)
    field = WebDriverWait(driver, WAIT_S).until(EC.element_to_be_clickable((By.ID, "token")))
    field.send_keys(token)
    field.submit()
    WebDriverWait(driver, WAIT_S).until(EC.visibility_of_element_located((By.ID, "nav")))


def lane_card(driver, name="pool"):
    return WebDriverWait(driver, WAIT_S).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f'.lane-card[data-lane="{name}"]')))


def text_in(driver, css, expected, timeout=WAIT_S):
    """Waits until the element at `css` reads `expected`; returns it."""
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), expected))
    return driver.find_element(By.CSS_SELECTOR, css)


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_lanes_page_shows_the_pool_and_a_new_claim_live(console, browser):
    # More of a board for the picture the README shows: an idle lane, and ready work for a name
    # no lane serves (flagged unclaimable).
    console.bridge.register_lane("reviewer", max_concurrency=1)
    console.bridge.admin("task.create", title="Design review", assignee="designer")
    # A runner on another host serves the pool (`kanban-bridge runner` reports itself so).
    assert console.bridge.call("runner.report", auth=console.lane_token, lane="pool", runner_id="gpu-1:4242:1",
                               host="gpu-1", pid=4242, slots=2, running=[console.tasks[0]])["ok"]
    log_in(browser, console, console.admin_token)
    lane_card(browser)
    card = '.lane-card[data-lane="pool"]'
    text_in(browser, '.unregistered tr[data-assignee="designer"]', "no lane can take it")
    text_in(browser, f"{card} .running", "2/3 running")
    assert browser.find_element(By.CSS_SELECTOR, f"{card} .queued").text == "3"
    assert len(browser.find_elements(By.CSS_SELECTOR, f"{card} .claim")) == 2
    runner = browser.find_element(By.CSS_SELECTOR, f'{card} .runner[data-host="gpu-1"]').text
    assert "runner gpu-1" in runner and "pid 4242" in runner and "1/2 slots busy" in runner, runner
    # Hermes' caps beside what the lanes hold.
    caps = browser.find_element(By.CSS_SELECTOR, ".caps").text
    assert "max_in_progress 8" in caps and "lanes hold 2 running" in caps
    WebDriverWait(browser, WAIT_S).until(EC.text_to_be_present_in_element((By.ID, "live"), "live"))
    # Settle the one-second ticks before the picture the README shows.
    text_in(browser, f"{card} .claim .lease", "left")
    shot(browser, "console-lanes")

    # A marker in the page's memory: a reload would lose it.
    browser.execute_script("window.__sameDocument = true;")
    task_id, _ = console.claim()
    text_in(browser, f"{card} .running", "3/3 running", timeout=LIVE_WAIT_S)
    WebDriverWait(browser, LIVE_WAIT_S).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'{card} .claim[data-task="{task_id}"]')))
    assert browser.find_element(By.CSS_SELECTOR, f"{card} .queued").text == "2"
    assert browser.execute_script("return window.__sameDocument === true;"), "the page reloaded"

    # Phone width: the same numbers, nothing wider than the screen.
    browser.set_window_size(375, 800)
    text_in(browser, f"{card} .running", "3/3 running")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
    shot(browser, "console-lanes-375")


def test_tasks_task_and_events_pages_and_a_refusal_shows_its_code(console, browser):
    done_id, done_token = console.claims[1]
    ok(console.bridge.call("complete", auth=console.lane_token, task_id=done_id, claim_token=done_token, result="shipped"))
    log_in(browser, console, console.admin_token)
    # Filters: the lane, a status, a text; the total and the page.
    browser.get(console.url + "#/tasks?lane=pool&status=ready")
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.CSS_SELECTOR, "table.tasks")))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
    assert len(rows) == 3 and all("ready" in r.text for r in rows)
    assert "1–3 of 3" in browser.find_element(By.CSS_SELECTOR, ".pager").text
    text = browser.find_element(By.ID, "f-q")
    text.send_keys("widget 0")
    text.submit()
    WebDriverWait(browser, WAIT_S).until(lambda d: "q=widget" in d.current_url and
                                         len(d.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")) <= 1)
    shot(browser, "console-tasks")
    # The task page of the completed task: its run with the outcome; the board refuses a reclaim of
    # it, and the dialog shows the code.
    browser.get(console.url + f"#/tasks/{done_id}")
    text_in(browser, "#task-status", "done")
    assert "completed" in browser.find_element(By.CSS_SELECTOR, ".runs").text
    shot(browser, "console-task")
    browser.get(console.url + f"#/tasks/{console.claims[0][0]}")
    text_in(browser, "#task-status", "running")
    reclaim = WebDriverWait(browser, WAIT_S).until(EC.element_to_be_clickable((By.XPATH, "//button[text()='Reclaim']")))
    claim_id, claim_token = console.claims[0]
    ok(console.bridge.call("complete", auth=console.lane_token, task_id=claim_id, claim_token=claim_token, result="raced"))
    reclaim.click()  # the page still shows it running; the board has it done
    dialog = WebDriverWait(browser, WAIT_S).until(EC.visibility_of_element_located((By.ID, "dialog")))
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_in(browser, ".dialog-error", "Refused: ")
    assert browser.find_element(By.CSS_SELECTOR, ".dialog-error").text.split("Refused: ")[1].split(" ")[0]
    dialog.find_element(By.XPATH, ".//button[text()='Cancel']").click()
    # Events: the backlog and a live one.
    browser.get(console.url + "#/events")
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.CSS_SELECTOR, '.event[data-type="completed"]')))
    new_id = console.bridge.admin("task.create", title="Live event", assignee="pool")["task"]["id"]
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located(
        (By.XPATH, f"//li[contains(@class, 'event')][@data-type='created'][.//a[text()='{new_id}']]")))
    shot(browser, "console-events")


def test_a_lease_running_out_without_heartbeats_is_flagged_without_any_event(console, browser):
    # Dark mode while at it: the page follows prefers-color-scheme.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    log_in(browser, console, console.admin_token)
    text_in(browser, '.lane-card[data-lane="pool"] .running', "2/3 running")
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor;")
    assert sum(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3]) < 150, background
    # A 9 s lease nobody heartbeats: flagged from 6 s on (a third left, no heartbeat in the last
    # third) by the page's own tick, since nothing happens on the board until it expires at 9 s.
    result = ok(console.bridge.call("claim", auth=console.lane_token, lane="pool", lease_seconds=9))
    claimed = time.monotonic()
    flag = f'.claim[data-task="{result["task"]["id"]}"] .flag[data-kind="lease_expiring"]'
    WebDriverWait(browser, 8.5).until(EC.presence_of_element_located((By.CSS_SELECTOR, flag)))
    assert time.monotonic() - claimed > 5, "flagged before the last third of the lease"
    assert not browser.find_element(By.CSS_SELECTOR, '.lane-card[data-lane="pool"] .lane-stuck').get_attribute("hidden")
    shot(browser, "console-lanes-dark-stuck")


def test_reclaim_from_the_page_returns_the_task_to_ready(console, browser):
    log_in(browser, console, console.admin_token)
    task_id, _ = console.claims[0]
    row = f'.claim[data-task="{task_id}"]'
    WebDriverWait(browser, WAIT_S).until(EC.element_to_be_clickable((By.CSS_SELECTOR, f"{row} .reclaim"))).click()
    dialog = WebDriverWait(browser, WAIT_S).until(EC.visibility_of_element_located((By.ID, "dialog")))
    assert task_id in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "input[name=reason]").send_keys("browser test")
    shot(browser, "console-reclaim-dialog")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, WAIT_S).until(EC.invisibility_of_element_located((By.CSS_SELECTOR, row)))
    text_in(browser, '.lane-card[data-lane="pool"] .running', "1/3 running")
    # The task page says ready, and so does the board.
    browser.get(console.url + f"#/tasks/{task_id}")
    text_in(browser, "#task-status", "ready")
    assert "reclaimed" in browser.find_element(By.CSS_SELECTOR, ".runs").text
    assert ok(console.bridge.call("task.get", auth=console.admin_token, task_id=task_id))["task"]["status"] == "ready"


def test_a_lane_token_sees_the_board_but_no_admin_actions(console, browser):
    log_in(browser, console, console.lane_token)
    text_in(browser, '.lane-card[data-lane="pool"] .running', "2/3 running")
    assert "read-only" in browser.find_element(By.ID, "who").text
    assert browser.find_elements(By.CSS_SELECTOR, ".reclaim") == []
    browser.get(console.url + "#/tasks")
    WebDriverWait(browser, WAIT_S).until(EC.presence_of_element_located((By.CSS_SELECTOR, "table.tasks")))
    assert "New task" not in browser.find_element(By.ID, "main").text


def test_without_login_the_api_answers_401_and_the_page_shows_no_board(console, browser):
    for path in ("api/lanes", "api/tasks", f"api/tasks/{console.tasks[0]}", "api/events"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(console.url + path, timeout=10)
        assert refused.value.code == 401
        body = refused.value.read().decode()
        assert json.loads(body)["error"]["code"] == "unauthorized" and "Widget" not in body
    browser.get(console.url)
    WebDriverWait(browser, WAIT_S).until(EC.visibility_of_element_located((By.ID, "token")))
    browser.get(console.url + "#/tasks")  # a deep link does not get past the login either
    WebDriverWait(browser, WAIT_S).until(EC.visibility_of_element_located((By.ID, "token")))
    page = browser.page_source
    assert "Widget" not in page and "lane-card" not in page and console.tasks[0] not in page
    assert not browser.find_element(By.ID, "nav").is_displayed()
    # A wrong token is refused with the server's code and still shows nothing.
    field = browser.find_element(By.ID, "token")
    field.send_keys("at_" + "x" * 43)
    field.submit()
    text_in(browser, "#login-error", "unauthorized")
    assert "Widget" not in browser.page_source
    shot(browser, "console-login")


def test_hermes_dashboard_shows_the_lanes_tab_with_the_same_numbers(console, browser, tmp_path):
    hermes_home = tmp_path / "hermes-home"
    hermes_home.mkdir()
    install = subprocess.run([BIN, "hermes-plugin", "install", "--hermes-home", str(hermes_home)],
                             capture_output=True, text=True, timeout=60, cwd=REPO, env=clean_env())
    assert install.returncode == 0, install.stderr
    assert (hermes_home / "plugins" / "kanban-lanes" / "dashboard" / "manifest.json").is_file()
    env = clean_env(HERMES_HOME=str(hermes_home))
    enable = subprocess.run([str(HERMES), "plugins", "enable", "kanban-lanes", "--no-allow-tool-override"],
                            capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    # The bridge's URL and a lane token (read-only is enough) reach the plugin's Python route only.
    token_file = tmp_path / "lane.token"
    token_file.write_text(console.lane_token + "\n")
    env.update(KANBAN_BRIDGE_HTTP=console.url.rstrip("/"), KANBAN_BRIDGE_TOKEN_FILE=str(token_file))
    port = free_port()
    log = tmp_path / "hermes-dashboard.log"
    with open(log, "wb") as out:
        dashboard = subprocess.Popen([str(HERMES), "dashboard", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-open", "--skip-build"], stdout=out, stderr=out, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/", deadline_s=90)
        browser.get(f"http://127.0.0.1:{port}/kanban-lanes")
        row = 'tr[data-lane="pool"]'
        text_in(browser, f"{row} .kbl-running", "2/3 running", timeout=30)
        expected = next(l for l in console.lanes_json()["lanes"] if l["name"] == "pool")
        assert browser.find_element(By.CSS_SELECTOR, f"{row} .kbl-running").text == \
            f"{expected['running']}/{expected['max_concurrency']} running"
        assert browser.find_element(By.CSS_SELECTOR, f"{row} .kbl-queued").text == str(expected["queued"])
        assert "max_in_progress" in browser.find_element(By.CSS_SELECTOR, ".kbl-caps").text
        # The tab itself, in Hermes' navigation.
        assert browser.find_elements(By.CSS_SELECTOR, 'a[href="/kanban-lanes"]'), "no Lanes tab in the navigation"
        # The browser never saw the bridge's token: it is in no page Hermes served. (A bare `assert x
        # not in page` would print the token on failure, into the log scripts/test scans.)
        leaked = console.lane_token in browser.page_source
        assert not leaked, "the bridge's token reached the dashboard page"
        shot(browser, "hermes-lanes-tab")
    finally:
        try:
            os.killpg(dashboard.pid, 15)
        except ProcessLookupError:
            pass
        try:
            dashboard.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(dashboard.pid, 9)
            dashboard.wait()
        if dashboard.returncode not in (0, -15, 143):
            print(f"hermes dashboard exited {dashboard.returncode}; log:\n{log.read_text(errors='replace')[-4000:]}")
