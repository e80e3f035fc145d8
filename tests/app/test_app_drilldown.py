"""The explorer's drill-down in a real browser (issue #10): cluster, drill into a card, read the breadcrumbs.

A real ``inbedder app`` and a headless Chromium (over the DevTools protocol, tests/browser_cdp.py),
the real embedded model on the first 24 sample reviews, as the explorer's other browser test (in
this test's own embedding cache, which conftest.py points INBEDDER_CACHE at):
the page clusters them (k = 2), the test opens "Drill into this cluster" on the largest card,
types a follow-up question and submits it, then checks that the breadcrumb bar shows the path
(all texts › the question › the cluster's name › the follow-up), and that its first crumb
goes back up to the whole corpus.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from browser_cdp import Chromium, find_chromium, served_explorer

from inbedder.app import loading

ARTIFACTS = Path(__file__).parent / "artifacts"
QUESTION = loading.SAMPLE_QUESTIONS[0]
FOLLOW_UP = "What went wrong with the service?"
ROWS = 24
PAGE_TIMEOUT = 900  # seconds per page run: 24 texts take ~15 s on an idle CPU, minutes on a shared one

CARDS = ("[...document.querySelectorAll('[class*=\"st-key-card_\"]')]"
         ".filter(e => /Cluster -?\\d+.* · \\d+ texts?/.test(e.innerText)).length")  # cards drawn with their titles
CRUMBS = ".st-key-breadcrumbs"
CRUMB_TEXT = "(document.querySelector('.st-key-breadcrumbs') || {innerText: ''}).innerText"
CHILD_CARDS = "!!document.querySelector('[class*=\"st-key-drill_open_1_\"]')"  # node 1: the first drill-down
ERRORS = "'.stException, [data-testid=\"stAlertContentError\"]'"  # st.error's one line, or a traceback
ALERTS = f"!!document.querySelector({ERRORS})"
STATE = (f"JSON.stringify({{crumbs: {CRUMB_TEXT}, errors: [...document.querySelectorAll({ERRORS})].map(e => e.innerText), "
         "cards: [...document.querySelectorAll('[class*=\"st-key-card_\"]')].map(e => e.innerText.slice(0, 200))})")


def _cards(browser: Chromium) -> list[tuple[int, str, int]]:
    """(cluster, label, texts) of each card, from its title "Cluster 1 · wait times · 12 texts"."""
    found = []
    for title in json.loads(browser.evaluate(STATE))["cards"]:
        match = re.search(r"Cluster (-?\d+)( · .+?)? · (\d+) texts?", title)
        if match:
            label = f"{match.group(1)}{match.group(2) or ''}"
            found.append((int(match.group(1)), label, int(match.group(3))))
    return found


def _eventually(check: Callable[[], bool], timeout: float = 60) -> bool:
    """Poll ``check`` until it holds: a rerun's elements replace the old ones a moment apart."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return check()


def _drill(browser: Chromium, cluster: int, question: str) -> None:
    """Open the card's "Drill into this cluster", type the follow-up question and submit the form."""
    node = f"0_{cluster}"  # the root clustering is node 0
    assert browser.click(f".st-key-drill_open_{node} summary"), "no 'Drill into this cluster' on the card"
    assert browser.wait_for(f"!!document.querySelector('.st-key-drill_question_{node} input')", timeout=30)
    assert browser.type_into(f".st-key-drill_question_{node} input", question)
    assert browser.click(f".st-key-drill_run_{node} button"), "no submit button in the drill-down form"


@pytest.mark.slow
def test_browser_drills_into_a_cluster_and_shows_the_breadcrumbs(tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `make test` does it where apt works)")
    query = urllib.parse.urlencode({"sample": 1, "question": QUESTION, "k": 2, "limit": ROWS, "run": 1})
    with served_explorer(tmp_path / "server.log") as url, Chromium(binary, tmp_path / "profile") as browser:
        browser.open(f"{url}/?{query}")
        ready = browser.wait_for(f"{CARDS} >= 2", timeout=PAGE_TIMEOUT)
        assert ready, f"no cluster cards after {PAGE_TIMEOUT} s: {browser.evaluate(STATE)}"
        cluster, label, size = max(_cards(browser), key=lambda card: card[2])
        assert size >= 3 and " · " in label, _cards(browser)  # the card shows the cluster's name beside its number
        _drill(browser, cluster, FOLLOW_UP)
        shown = browser.wait_for(f"{CHILD_CARDS} || {ALERTS}", timeout=PAGE_TIMEOUT)  # the child's cards, or a refusal
        browser.wait_for(f"{CRUMB_TEXT}.includes({json.dumps(FOLLOW_UP)})", timeout=10)
        browser.evaluate(f"document.querySelector('{CRUMBS}')?.scrollIntoView()")
        shot = browser.screenshot(ARTIFACTS / "explorer-drilldown.png")
        seen = json.loads(browser.evaluate(STATE))
        assert shown and not seen["errors"], f"the drill-down did not show (screenshot {shot}): {seen}"
        crumbs = " ".join(seen["crumbs"].split())
        assert FOLLOW_UP in crumbs, f"no breadcrumb with the follow-up question (screenshot {shot}): {seen}"
        assert crumbs.index(f"All {ROWS} texts") < crumbs.index(QUESTION) < crumbs.index(label) < crumbs.index(FOLLOW_UP), crumbs
        assert _eventually(lambda: sum(card[2] for card in _cards(browser)) <= size), _cards(browser)  # that cluster's texts

        assert browser.click(f"{CRUMBS} .st-key-crumb_0 button"), "the 'All texts' crumb is not a button"
        back = browser.wait_for(f"!{CRUMB_TEXT}.includes({json.dumps(FOLLOW_UP)})", timeout=120)
        assert back, f"the first crumb did not go back up: {browser.evaluate(STATE)}"
        assert _eventually(lambda: sum(card[2] for card in _cards(browser)) == ROWS), _cards(browser)
