"""An annotator uses the real Argilla UI in headless Chromium; the next pull has the response.

Debian's /usr/bin/chromium driven by Playwright (no `playwright install`); requests to other
hosts (web fonts) are blocked. What is checked is what an annotator sees on a laptop screen
(1440x900): every placeholder visible, the candidates right under the conversation and above
the policy, the guidelines' examples, and a whole record answered with the keyboard alone,
counting key presses and the mouse-wheel steps needed to read it. A screenshot of the record
is kept as a test artifact in $SUPPORTLOOP_TEST_ARTIFACTS (default runs/test-artifacts/).
"""

from __future__ import annotations

import json
import time

import pytest

from supportloop.feedback.argilla.pull import pull
from supportloop.feedback.argilla.push import judged_turns, push
from supportloop.feedback.argilla.settings import FLAG_LABELS, RESOLVES_LABELS
from tests.argilla.helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LAPTOP,
    fixed_candidates,
    make_conversation,
    sign_in,
    text_field,
)

pytestmark = [pytest.mark.argilla, pytest.mark.browser, pytest.mark.slow]

WHEEL_STEP = 100  # pixels per mouse-wheel notch in Chromium
RANK_PAUSE_MS = 450  # the ranking widget drops digits pressed faster than ~400 ms apart

DETAILS = "My name is <PERSON_1>, zip code <ZIP_CODE_1>. My email is <EMAIL_1>."
CANDIDATES = [
    "I will refund you right away and add a 20% discount, <PERSON_1>.",
    "Please send me your email address and the order number.",
]
CORRECTION = "Thanks <PERSON_1>. I found order #W2378156 with <EMAIL_1>: shall I start the return?"
POLICY = (
    "An order can only be returned if its status is 'delivered', and you should check its "
    "status before taking the action. The user needs to confirm the order id and the list of "
    "items to be returned. The user needs to provide a payment method to receive the refund. "
    "The refund must either go to the original payment method, or an existing gift card.\n\n"
    "After user confirmation, the order status will be changed to 'return requested', and "
    "the user will receive an email regarding how to return items. Refunds to a card take 5 "
    "to 7 business days after the items arrive; refunds to a gift card are immediate.\n\n"
    "Exchanges follow the same rules: only delivered orders, only items of the same product, "
    "and one exchange per order, so collect every item first."
)
PROFILE = {
    "address": {"address1": "<ADDRESS_1>", "city": "<ADDRESS_2>", "zip": "<ZIP_CODE_1>"},
    "email": "<EMAIL_1>",
    "name": {"first_name": "<PERSON_1>", "last_name": "<PERSON_1>"},
    "orders": ["#W2378156", "#W7009371"],
}


class Keyboard:
    """Presses keys on the page and counts them."""

    def __init__(self, page) -> None:
        self.page, self.presses = page, 0

    def press(self, *keys: str, pause_ms: int = 150) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.page.wait_for_timeout(pause_ms)
            self.presses += 1


def _record_conversation() -> dict:
    conv = make_conversation(0)
    first, logged = conv["messages"]
    first["content"] = "Hi, I want to return the water bottle from order #W2378156, it leaks."
    asked = {**logged, "content": "Sorry about that! Could you confirm your name and zip code?"}
    details = {**first, "content": DETAILS}
    reply = {**logged, "content": "Thanks <PERSON_1>! Returns are accepted once delivered."}
    conv["messages"] = [first, asked, details, reply]
    conv["context"]["retrieved_docs"] = [
        {"doc_id": "retail-policy-10", "title": "Return delivered order", "text": POLICY}
    ]
    conv["context"]["customer_profile"] = json.dumps(PROFILE)
    return conv


def _wheel_steps_until_shown(page, panel, target) -> int:
    """Mouse-wheel notches over the record panel until `target`'s bottom is on screen."""
    box = panel.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    steps = 0
    while target.bounding_box()["y"] + target.bounding_box()["height"] > box["y"] + box["height"]:
        page.mouse.wheel(0, WHEEL_STEP)
        page.wait_for_timeout(150)
        steps += 1
        assert steps < 50, "the record panel does not scroll"
    return steps


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian chromium missing (setup.sh --tests)")
def test_annotator_reads_and_annotates_a_record_by_keyboard(argilla_stack, owner, dataset_config):
    from playwright.sync_api import sync_playwright

    conv = _record_conversation()
    pushed = push(owner, dataset_config, [conv], fixed_candidates(CANDIDATES))
    users = json.loads(argilla_stack.credentials_file.read_text())["users"]
    url = argilla_stack.api_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "annotator_record.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            sign_in(page, url, "annotator-3", users["annotator-3"]["password"])
            page.goto(pushed["annotation_url"])  # the link push reports for annotators
            ranking = page.locator('[aria-label="Question: ranking"]')
            ranking.wait_for(timeout=30_000)

            # Every placeholder is visible, in the conversation, the candidates and the profile.
            chat = page.locator(".chat__wrapper")
            assert DETAILS in chat.inner_text()
            assert "Thanks <PERSON_1>!" in text_field(page, "Candidate 1").inner_text()
            assert CANDIDATES[0] in text_field(page, "Candidate 2").inner_text()
            profile = text_field(page, "Customer profile").inner_text()
            assert "email: <EMAIL_1>" in profile and "zip: <ZIP_CODE_1>" in profile
            assert page.get_by_text("<EMAIL_1>", exact=False).first.is_visible()
            assert "You are a customer-support assistant" not in chat.inner_text()

            # Reading order: conversation, candidates, policy (start shown, rest collapsed),
            # profile; the candidates come before the policy.
            policy = text_field(page, "Policy passages")
            tops = [
                chat.bounding_box()["y"],
                *(text_field(page, f"Candidate {i}").bounding_box()["y"] for i in (1, 2, 3)),
                policy.bounding_box()["y"],
                text_field(page, "Customer profile").bounding_box()["y"],
            ]
            assert tops == sorted(tops), tops
            assert "Return delivered order" in policy.inner_text()
            assert "Rest of this passage" in policy.inner_text()
            assert not policy.get_by_text("one exchange per order").is_visible()  # collapsed

            # Mouse-wheel steps an annotator needs to read the candidates, and the whole record.
            panel = page.locator(".record__content")
            to_candidates = _wheel_steps_until_shown(page, panel, text_field(page, "Candidate 3"))
            to_end = to_candidates + _wheel_steps_until_shown(
                page, panel, text_field(page, "Customer profile")
            )

            # Keyboard only: the focus starts on the ranking; each digit ranks the focused
            # candidate and moves on to the next one; a resolves answer moves on to that
            # candidate's flags, where digits tick flags; the arrow goes to the next question.
            keys = Keyboard(page)
            assert page.evaluate("document.activeElement.id") == "candidate_1"
            keys.press("1", "3", "2", pause_ms=RANK_PAUSE_MS)  # ranks of candidates 1, 2, 3
            keys.press("ArrowDown", "2")  # candidate 1: partly
            keys.press("ArrowDown", "3", "2")  # candidate 2: no; unauthorised commitment
            keys.press("ArrowDown", "3", "3")  # candidate 3: no; asks for known information
            answered = keys.presses
            keys.press("ArrowDown", "Shift+Enter")  # the corrected reply
            page.keyboard.type(CORRECTION)
            keys.press("Escape")
            page.set_viewport_size({"width": LAPTOP["width"], "height": 1800})
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshot))  # the whole record and the filled form
            page.set_viewport_size(LAPTOP)
            keys.press("Enter")  # submit
            page.wait_for_timeout(500)

            # The submitted record, as the annotator finds it again.
            page.goto(f"{url}/dataset/{pushed['dataset_id']}/annotation-mode?status=submitted")
            page.locator('[aria-label="Question: correction"]').wait_for(timeout=30_000)
            assert DETAILS in page.locator(".chat__wrapper").inner_text()
            shown = page.locator('[aria-label="Question: correction"]').inner_text()
            assert CORRECTION in shown

            # The guidelines panel explains every label, with examples.
            page.get_by_text("Guidelines", exact=True).first.click()
            guidelines = page.locator(".markdown-render").filter(has_text="Annotation guidelines")
            guidelines.wait_for(timeout=10_000)
            text = guidelines.inner_text()
            for label in [*RESOLVES_LABELS.values(), *FLAG_LABELS.values()]:
                assert label in text, label
            assert text.count("Example:") >= len(RESOLVES_LABELS) + len(FLAG_LABELS)
            assert "<EMAIL_1>" in text
        finally:
            browser.close()
    # Without the optional flags and correction, a record takes 3 ranks, an arrow and a digit
    # per candidate, and Enter.
    minimal = answered - 2 + 1
    print(
        f"\nrecord screenshot: {screenshot}\n"
        f"key presses: {keys.presses} with two flags and a correction (plus its text), "
        f"{minimal} without; mouse-wheel steps: {to_candidates} to see all candidates, "
        f"{to_end} to the end of the record ({LAPTOP['width']}x{LAPTOP['height']})"
    )
    assert minimal == 10
    assert screenshot.stat().st_size > 10_000

    for _ in range(20):  # the UI submits asynchronously
        if pull(owner, dataset_config)["rows"]:
            break
        time.sleep(0.5)
    from datasets import load_from_disk

    (row,) = load_from_disk(str(dataset_config.pull_dir / "responses"))
    assert (row["annotator"], row["status"]) == ("annotator-3", "submitted")
    assert row["ranking"] == [1, 3, 2]
    assert row["resolves"] == ["partly", "no", "no"]
    assert row["flags"] == [[], ["unauthorised_commitment"], ["asks_known_info"]]
    # What comes back is the pipeline's text: placeholders as ingest wrote them.
    assert row["correction"] == CORRECTION
    assert row["prompt"] == next(judged_turns([conv], "last")).prompt
    assert [c["text"] for c in row["candidates"]][1:] == CANDIDATES
