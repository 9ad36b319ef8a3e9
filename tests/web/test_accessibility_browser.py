"""The console and the public pages in a real browser, checked by axe-core (vendored, test-only) for WCAG 2 A/AA.

Every main page is visited in zh-CN and en, in one browser context per language, in sequence: axe must report no
violation of impact "serious" or "critical"; at 360 px wide the page must not scroll sideways; and the keyboard
(Tab from the top of the page) reaches the page's main action — the inbox's reply box, a settings form's submit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from omnidesk.core.db import Database
from omnidesk.security.permissions import Role
from tests.factories import World, browser_sign_in
from tests.knowledge.helpers import category, published

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 360, "height": 740}

# The staff pages an admin opens (path, then a CSS selector the keyboard must reach by Tab, or None).
STAFF_PAGES: list[tuple[str, str | None]] = [
    ("/", None),
    ("/inbox?view=all&c={conversation}", "#reply-body"),
    ("/tickets", None),
    ("/tickets/{ticket}", "form[action$='/status'] button[type=submit]"),
    ("/knowledge", None),
    ("/settings", None),
    ("/settings/users", None),
    ("/settings/sla", "form[action='/settings/sla'] button[type=submit]"),
    ("/settings/automations", None),
    ("/contacts", None),
    ("/reports", None),
    ("/admin/assistant", None),
]


def _axe(page: Any, where: str) -> list[str]:
    """The serious and critical WCAG 2 A/AA violations axe finds on the page, one readable line per node."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            found.append(
                f"{where}: {violation['id']} ({violation['impact']}) at {node['target']} — {violation['help']}"
                f" | {node.get('failureSummary', '').splitlines()[-1:]}"
            )
    return found


def _fits(page: Any, where: str) -> list[str]:
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= NARROW["width"]:
        return []
    wide = page.evaluate(
        """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 40))"""
    )
    return [f"{where}: {width} px wide at 360 px (scrolls sideways) {wide}"]


def _tab_reaches(page: Any, selector: str, where: str, presses: int = 60) -> list[str]:
    """Press Tab from the top of the page until the element under ``selector`` has focus."""
    target = page.locator(selector).first
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")  # the first stop: the first link of the page's navigation
    for _ in range(presses):
        if target.evaluate("el => el === document.activeElement"):
            return []
        page.keyboard.press("Tab")
    return [f"{where}: Tab never reaches {selector} in {presses} presses"]


def _visit(page: Any, url: str, where: str, lang: str, tab_to: str | None = None) -> list[str]:
    """Audit one page wide (axe), then narrow (axe again, no sideways scroll, keyboard to the main action)."""
    problems: list[str] = []
    page.set_viewport_size(WIDE)
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{where}: {response and response.status}"
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == lang, f"{where}: not rendered in {lang}"
    problems += _axe(page, where)
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(50)
    problems += [p for p in _axe(page, f"{where} (360 px)") if p.replace(" (360 px)", "", 1) not in problems]
    problems += _fits(page, where)
    if tab_to:
        problems += _tab_reaches(page, tab_to, where)
    return problems


def _ticket(base: str, world: World) -> str:
    made = httpx.post(
        f"{base}/api/v1/tickets",
        headers=world.headers(),
        json={"subject": "发票抬头写错了 Wrong invoice title", "priority": "high", "description": "请帮忙改一下。"},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_staff_pages_have_no_serious_axe_violations_fit_360_px_and_work_by_keyboard(
    browser: Any, live_server: str, world: World, artifacts_dir: Path, lang: str
) -> None:
    base = live_server
    ticket = _ticket(base, world)
    context = browser.new_context(locale="zh-CN", viewport=WIDE, bypass_csp=True)
    page = context.new_page()
    problems: list[str] = []
    try:
        if lang == "en":
            page.goto(f"{base}/lang/en?next=/login")  # the language cookie, as the switcher sets it
        problems += _visit(page, f"{base}/login", f"[{lang}] /login", lang)
        _sign_in(page, base, world, lang, Role.ADMIN)
        for path, tab_to in STAFF_PAGES:
            where = f"[{lang}] {path}"
            problems += _visit(
                page, base + path.format(conversation=world.conversation.id, ticket=ticket), where, lang, tab_to
            )
        page.screenshot(path=str(artifacts_dir / f"a11y-admin-assistant-{lang}-360.png"), full_page=True)
        # The audit log is the auditor's page.
        context.clear_cookies()
        if lang == "en":
            page.goto(f"{base}/lang/en?next=/login")
        _sign_in(page, base, world, lang, Role.AUDITOR)
        problems += _visit(page, f"{base}/audit", f"[{lang}] /audit", lang)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def _sign_in(page: Any, base: str, world: World, lang: str, role: Role) -> None:
    """Sign in through the log-in page, its labels in the page's language (the language cookie is already set)."""
    if lang == "zh-CN":
        browser_sign_in(page, base, world, role)
        return
    page.goto(f"{base}/login")
    page.get_by_label("Workspace").fill(world.slug)
    page.get_by_label("E-mail").fill(world.emails[role])
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_help_center_and_chat_widget_have_no_serious_axe_violations_and_fit_360_px(
    browser: Any, live_server: str, world: World, db: Database, lang: str
) -> None:
    cat = category(db, world)
    articles = {
        "zh-CN": published(
            db, world, "如何申请七天无理由退货？", "签收后 **7 天内** 可在订单页申请退货。", category_id=cat
        ),
        "en": published(
            db, world, "How do I return an item?", "Within **7 days** of delivery.", language="en", category_id=cat
        ),
    }
    problems: list[str] = []
    context = browser.new_context(locale=lang, viewport=WIDE, bypass_csp=True)
    page = context.new_page()
    try:
        problems += _visit(page, f"{live_server}/help/{world.slug}?lang={lang}", f"[{lang}] help center", lang)
        problems += _visit(
            page,
            f"{live_server}/help/{world.slug}/articles/{articles[lang].id}?lang={lang}",
            f"[{lang}] help article",
            lang,
        )
        problems += _visit(page, f"{live_server}/chat/{world.slug}", f"[{lang}] widget chat", lang, "#message-input")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
