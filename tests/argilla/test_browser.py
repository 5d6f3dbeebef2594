"""An annotator uses the real Argilla UI in headless Chromium; the next pull has the response.

Debian's /usr/bin/chromium driven by Playwright (no `playwright install`); requests to other
hosts (web fonts) are blocked. A screenshot of the filled form is kept as a test artifact in
$SUPPORTLOOP_TEST_ARTIFACTS (default runs/test-artifacts/).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from feedback.argilla.pull import pull
from feedback.argilla.push import push

pytestmark = [pytest.mark.argilla, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get(
        "SUPPORTLOOP_TEST_ARTIFACTS", Path(__file__).parents[2] / "runs" / "test-artifacts"
    )
)


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian chromium not installed (setup.sh)")
def test_annotator_ranks_and_submits_in_the_ui(
    argilla_stack, owner, dataset_config, conversation, candidates
):
    from playwright.sync_api import sync_playwright

    pushed = push(
        owner,
        dataset_config,
        [conversation(0)],
        candidates(["Sorry, no returns.", "Send me your order number."]),
    )
    users = json.loads(argilla_stack.credentials_file.read_text())["users"]
    url = argilla_stack.api_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(url) else route.abort()
                ),
            )
            page.goto(f"{url}/sign-in")
            page.locator("input[name=Username]").fill("annotator-3")
            page.locator("input[name=Password]").fill(users["annotator-3"]["password"])
            page.locator("button[type=submit]").click()
            page.wait_for_url(lambda u: "/sign-in" not in u, timeout=30_000)
            page.goto(f"{url}/dataset/{pushed['dataset_id']}/annotation-mode")
            ranking = page.locator('[aria-label="Question: ranking"]')
            ranking.wait_for(timeout=30_000)
            assert page.get_by_text("Sorry, no returns.").is_visible()
            # Keyboard ranking: focus a candidate, press its rank (the UI needs ~400 ms).
            for slot, rank in (("candidate_2", "1"), ("candidate_1", "2"), ("candidate_3", "3")):
                ranking.locator(f"#{slot}").focus()
                page.keyboard.press(rank)
                page.wait_for_timeout(450)
            page.locator('[aria-label="Question: resolves_1"]').get_by_text("Partly").click()
            page.locator('[aria-label="Question: resolves_2"]').get_by_text("No").click()
            page.locator('[aria-label="Question: flags_3"]').get_by_text(
                "Asks again for information already given"
            ).click()
            page.screenshot(path=str(ARTIFACTS / "argilla-ui-annotation.png"), full_page=True)
            page.locator("button.button--submit").click()
            page.wait_for_timeout(500)
        finally:
            browser.close()

    for _ in range(20):  # the UI submits asynchronously
        result = pull(owner, dataset_config)
        if result["rows"]:
            break
        time.sleep(0.5)
    from datasets import load_from_disk

    rows = load_from_disk(str(dataset_config.pull_dir / "responses"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["annotator"], row["status"]) == ("annotator-3", "submitted")
    assert row["ranking"] == [2, 1, 3]
    assert row["resolves"] == ["partly", "no", None]
    assert row["flags"] == [[], [], ["asks_known_info"]]
    assert (ARTIFACTS / "argilla-ui-annotation.png").stat().st_size > 10_000
