"""Every role's pages in Chromium at 390×844 and 1280×800, in Chinese, on the demo data:
no English word (tests/words), no horizontal page overflow on a phone (a wide table
scrolls inside its own element, marked `data-scroll-table`), and on a desktop the last
administration item and "log out" are in view without scrolling the sidebar."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.words.test_chinese_ui import walk_paths, words_on
from zhoukou_grid.territory import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PAGES_PER_ROLE = 45

# Small layout faults, found in the page itself: a short label broken over two lines (重/载),
# a title squeezed beside its buttons, a checkbox too small or pressed against its text.
LAYOUT_FAULTS = """() => {
  const faults = [];
  for (const dt of document.querySelectorAll('.field-row dt')) {
    const lines = dt.getClientRects().length ? dt.getBoundingClientRect().height / parseFloat(getComputedStyle(dt).lineHeight || 20) : 0;
    if (dt.textContent.trim().length <= 4 && lines > 1.5) faults.push('label wraps: ' + dt.textContent.trim());
  }
  for (const h1 of document.querySelectorAll('.page-header h1')) {
    if (h1.getBoundingClientRect().width < 180) faults.push('title squeezed: ' + h1.textContent.trim());
  }
  for (const box of document.querySelectorAll('label.choice input[type=checkbox]')) {
    const r = box.getBoundingClientRect(), text = box.nextElementSibling;
    if (r.width < 22) faults.push('checkbox ' + r.width + ' px wide');
    if (text && text.getBoundingClientRect().left - r.right < 8) faults.push('checkbox against its label');
  }
  return faults;
}"""


@pytest.fixture
def demo_data(transactional_db):
    call_command("seed_demo", "--scale", "demo", stdout=io.StringIO())


@pytest.mark.parametrize("username", [spec.username for spec in demo.DEMO_USERS])
def test_every_role_at_both_sizes(demo_data, chromium_browser, live_server, username, screenshot_dir):
    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    paths = walk_paths(client, limit=PAGES_PER_ROLE)
    # The visit log form (its checkboxes) and the notifications (their title), whatever the links reached.
    from django.urls import reverse

    from visits.models import Visit

    visit = Visit.objects.filter(grid_manager=user, status="planned").order_by("planned_date").first()
    extra = [reverse("portal:notification_list")]
    if visit is not None:
        extra.append(reverse("visits:field_visit_log", args=[visit.pk]))
    paths += [path for path in extra if path not in paths]
    cookies = [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url},
               {"name": settings.LANGUAGE_COOKIE_NAME, "value": "zh-hans", "url": live_server.url}]
    problems = []
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = chromium_browser.new_context(viewport=viewport, locale="zh-CN")
        context.add_cookies(cookies)
        page = context.new_page()
        try:
            for path in paths:
                page.goto(live_server.url + path)
                english = words_on(page.content())
                if english:
                    problems.append(f"{size} {path}: {' '.join(sorted(set(english)))}")
                if size == "phone":
                    problems += [f"phone {path}: {fault}" for fault in page.evaluate(LAYOUT_FAULTS)]
                    width = page.evaluate("() => document.documentElement.scrollWidth")
                    if width > PHONE["width"]:
                        problems.append(f"phone {path}: page is {width} px wide")
                        if screenshot_dir is not None:
                            name = path.strip("/").replace("/", "_").replace("?", "_") or "home"
                            page.screenshot(path=str(screenshot_dir / f"{username}_{name}.png"))
            if size == "desktop":
                page.goto(live_server.url + "/")
                bottom = page.evaluate(
                    "() => Math.max(...[...document.querySelectorAll('#site-nav .nav-list a, #site-nav .logout-form')]"
                    ".map(e => e.getBoundingClientRect().bottom))")
                if bottom > DESKTOP["height"]:
                    problems.append(f"desktop: the sidebar ends at {bottom:.0f} px, below the fold")
        finally:
            context.close()
    assert not problems, "\n".join(problems)
