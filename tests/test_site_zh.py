"""The Chinese edition (_build/html/zh, built by `make site` from locales/zh_CN) as a reader meets it,
in the same headless Chromium and with the same checks as the English pages (tests/test_site.py):
no console error or outside request, images, links, math typeset offline, no display equation wider
than the column at 1,400 px, the kernel-free explorers move; and on top, that the page *is* Chinese
(its headings and paragraphs, not code or outputs), that the theme speaks Chinese, and that the
language switch leads to the same page of the other edition, both ways. Screenshots go to
_build/screenshots/zh/, named as the English ones in _build/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

import site_checks as sc
from test_site import CONFIG, DOCS, SCREENSHOTS, SITE, session  # noqa: F401  (the fixture, on this module's site_root)

ZH = SITE / "zh"
CJK = re.compile(r"[\u4e00-\u9fff]")

browser_only = pytest.mark.browser


@pytest.fixture(scope="module")
def site_root() -> Path:
    if not (ZH / "index.html").is_file():
        pytest.skip(f"no Chinese edition in {ZH}: run `make site` first")
    return SITE


def chinese_problems(facts: dict, docname: str) -> list[str]:
    """What shows that a page of the Chinese edition is not Chinese: its html lang, a heading without a
    Chinese character, or fewer than 95 % of its prose blocks (paragraphs, list items, captions and
    table cells; code, outputs and math excluded) with one. The references page's table cells are
    references as printed (authors, titles, venues) and stay as they are."""
    problems = []
    if not facts["lang"].startswith("zh"):
        problems.append(f"<html lang={facts['lang']!r}>, not zh")
    text = facts["text"]
    english = [h for h in text["headings"] if not CJK.search(h)]
    if english:
        problems.append(f"headings without Chinese: {english[:5]}")
    blocks = text["paragraphs"] + (text["cells"] if docname != "book/07_references" else [])
    latin = [p for p in blocks if not CJK.search(p)]
    if not blocks or len(latin) > 0.05 * len(blocks):
        problems.append(f"{len(latin)} of {len(blocks)} prose blocks without Chinese, e.g. {latin[:3]}")
    return problems


def _path(url: str) -> str:
    return urlparse(url).path.lstrip("/")


@browser_only
@pytest.mark.parametrize("docname", DOCS)
def test_chinese_page(session, site_root, docname):
    """Loads like an English page (tests/test_site.py's checks), reads as Chinese, and its language
    switch leads to the same page in English; then, in a second visit, equations fit and explorers move."""
    report = sc.audit_page(session, site_root, docname, CONFIG, notebook=sc.is_notebook(docname),
                           path=f"zh/{docname}.html", screenshot=SCREENSHOTS / "zh" / sc.screenshot_name(docname))
    problems = report.problems + chinese_problems(report.facts, docname)
    if report.facts and _path(report.facts.get("edition") or "") != f"{docname}.html":
        problems.append(f"language switch leads to {report.facts.get('edition')!r}, not the English {docname}")
    interactions = sc.interaction_problems(session, session.base_url + f"zh/{docname}.html")
    problems += interactions["math"] + interactions["explorer"] + interactions["events"]
    if problems:
        pytest.fail(f"{report.url}:\n  " + "\n  ".join(problems), pytrace=False)


@browser_only
def test_theme_speaks_chinese_and_switches_both_ways(session, site_root):
    """The theme's own words (search, previous/next) are Chinese; clicking the switch on an English page
    opens its Chinese page and back."""
    doc = "book/03_math"
    page = session.new_page()
    try:
        page.goto(session.base_url + f"{doc}.html", wait_until="load")
        page.locator(".edition-switch a").click()
        page.wait_for_url(re.compile(rf"/zh/{doc}\.html$"))
        assert "搜索" in page.locator(".search-button-field").first.inner_text()
        assert "上一页" in page.locator(".prev-next-area").inner_text()
        assert CJK.search(page.locator("h1").first.inner_text())
        page.locator(".edition-switch a").click()
        page.wait_for_url(re.compile(rf"/{doc}\.html$"))
        assert "/zh/" not in page.url and not CJK.search(page.locator("h1").first.inner_text())
    finally:
        session.close_page(page)
    assert not session.events, session.events


@browser_only
def test_errata_page_quotes_the_article(session, site_root):
    """The Chinese errata table shows the article's own sentences in 「…」."""
    page = session.new_page()
    try:
        page.goto(session.base_url + "zh/book/errata.html", wait_until="load")
        cells = page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    finally:
        session.close_page(page)
    assert len(cells) >= 15 and all("「" in c for c in cells), cells


def test_chinese_check_rejects_an_english_page():
    english = {"lang": "en", "text": {"headings": ["Core concepts"], "paragraphs": ["A GAN has two networks."] * 5,
                                      "cells": []}}
    problems = chinese_problems(english, "book/02_concepts")
    assert len(problems) == 3, problems
    chinese = {"lang": "zh-CN", "text": {"headings": ["核心概念"], "paragraphs": ["GAN 有两个网络。"] * 30 + ["Keras"],
                                      "cells": ["生成器", "判别器"]}}
    assert chinese_problems(chinese, "book/02_concepts") == []
