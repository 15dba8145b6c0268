"""The website as a reader meets it: every page of _build/html opened in headless Chromium.

Builds nothing: ``make site`` (the stage before ``browser`` in ``make test``) writes _build/html;
run alone, these tests skip when it is absent. The site is served on 127.0.0.1; every request to
anywhere else is blocked and counts as a failure, so MathJax, fonts and scripts must come from
the site itself (CI has no internet). One screenshot per page goes to _build/screenshots/.

The checks live in tests/site_checks.py. The tests at the end feed deliberately broken pages
(a synthetic one and a mutated copy of the real build) through the same checks and assert that
they fail, so a green run means something.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

import site_checks as sc

REPO = sc.REPO
SITE = Path(os.environ.get("SITE_DIR", REPO / "_build" / "html"))
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", REPO / "_build" / "screenshots"))
CONFIG = sc.load_config()
ENTRIES = sc.toc_entries()
DOCS = [d for d, _ in ENTRIES]

browser_only = pytest.mark.browser


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_root() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no built site in {SITE}: run `make site` first "
                    "(`make test` runs the site stage before the browser stage)")
    return SITE


# `browser` (headless Chromium, one per test session) is in conftest.py, shared with test_lab.py.


@pytest.fixture(scope="module")
def session(browser, site_root):
    with sc.SiteServer(site_root) as base:
        s = sc.Session(browser, base)
        yield s
        s.close()


def _fail_on(report: sc.PageReport):
    if report.problems:
        pytest.fail(f"{report.url}:\n  " + "\n  ".join(report.problems), pytrace=False)


# --------------------------------------------------------------------------------------------
# The real site
# --------------------------------------------------------------------------------------------


@browser_only
@pytest.mark.parametrize("docname", DOCS)
def test_page(session, site_root, docname):
    """Loads with no console error or outside request; images, links, math, Colab, download."""
    report = sc.audit_page(session, site_root, docname, CONFIG,
                           notebook=sc.is_notebook(docname),
                           screenshot=SCREENSHOTS / sc.screenshot_name(docname))
    _fail_on(report)


@browser_only
def test_sidebar_numbers_chapters_in_toc_order(session, site_root):
    report = sc.audit_page(session, site_root, DOCS[0], CONFIG,
                           notebook=sc.is_notebook(DOCS[0]), entries=ENTRIES)
    _fail_on(report)
    numbered = [t["text"] for t in report.facts["nav"] if t["text"][:1].isdigit()]
    assert len(numbered) == sum(1 for _, n in ENTRIES if n), numbered


@browser_only
def test_search_finds_discriminator(session):
    hits = sc.search(session, "discriminator", f"{DOCS[0]}.html")
    assert hits, "searching the site for 'discriminator' returned nothing"
    assert any("glossary" in h["url"] for h in hits), hits
    assert not session.events, session.events


@browser_only
def test_glossary_and_bibliography_pages(session, site_root):
    page = session.new_page()
    try:
        page.goto(session.base_url + "book/glossary.html")
        assert page.locator("dl.glossary dt").count() >= 5, "glossary page has no glossary terms"
        page.goto(session.base_url + "book/07_references.html")
        entries = page.locator('[role="doc-biblioentry"], .citation').count()
        assert entries >= 9, f"bibliography lists {entries} entries"
    finally:
        session.close_page(page)


@browser_only
def test_math_renders_offline(session, site_root):
    """Some page has math, and MathJax (served from _static) typeset it."""
    report = sc.audit_page(session, site_root, "book/glossary", CONFIG, notebook=False)
    _fail_on(report)
    math = report.facts["math"]
    assert math["nodes"] > 0 and math["rendered"] == math["nodes"] and math["mathjax"], math
    assert (site_root / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.fixture(scope="module")
def interactions(session, site_root):
    """Each page visited once for the equation widths and the explorers (see the two tests below)."""
    return {doc: sc.interaction_problems(session, session.base_url + f"{doc}.html",
                                         SCREENSHOTS / f"explorer-{sc.screenshot_name(doc)}")
            for doc in DOCS}


@browser_only
@pytest.mark.parametrize("docname", DOCS)
def test_display_math_fits_the_column(interactions, docname):
    """No display equation is wider than the text column at 1400 px; on a 400 px phone a wide one
    scrolls inside its own box instead of being cut off."""
    problems = interactions[docname]["math"]
    if problems:
        pytest.fail(f"{docname}:\n  " + "\n  ".join(problems), pytrace=False)


@browser_only
def test_explorers_respond_to_their_sliders(interactions):
    """On every page with a kernel-free explorer (gvutil.widgets), each range input changes the
    drawn image, with no console error and no request outside the site; 4.4 has two (latent space,
    interpolation), chapter 2 one (the training dial: three range inputs over precomputed runs)."""
    for docname, result in interactions.items():
        assert not result["explorer"] + result["events"], f"{docname}: {result}"
    counts = {d: r["explorers"] for d, r in interactions.items()}
    assert counts["book/04_vae_latent2d"] == 2 and counts["book/02_concepts"] == 1, counts


@browser_only
def test_too_wide_equation_is_reported(browser, site_root, tmp_path):
    """A copy of a real page with one very long display equation added: the check must say so."""
    copy = tmp_path / "html"
    shutil.copytree(site_root, copy, ignore=shutil.ignore_patterns("mathjax"))
    (copy / "_static" / "mathjax").symlink_to(site_root / "_static" / "mathjax")
    doc = "book/03_math"
    page = copy / f"{doc}.html"
    html = page.read_text(encoding="utf-8")
    long_sum = " + ".join(f"x_{{{i}}}^2" for i in range(120))
    at = html.index("</h1>", html.index("<article"))  # the page's own title, not a hidden one
    html = (html[:at] + f'</h1><div class="math notranslate nohighlight">\\[{long_sum}\\]</div>'
            + html[at + len("</h1>"):])

    def problems_of(text):
        page.write_text(text, encoding="utf-8")
        with sc.SiteServer(copy) as base:
            s = sc.Session(browser, base)
            try:
                return sc.math_width_problems(s, base + f"{doc}.html")
            finally:
                s.close()

    problems = problems_of(html)
    assert any("wider than the text column" in p and "x_{0}^2" in p for p in problems), problems
    # On a phone the theme's stylesheet (div.math mjx-container {overflow: auto}) makes it scroll in
    # its own box; with that rule overridden, it runs past the column and is reported as cut off.
    assert not any("cut off" in p for p in problems), problems
    problems = problems_of(html.replace(
        "</head>", "<style>div.math mjx-container {overflow: visible !important}</style></head>", 1))
    assert any("cut off at 400 px" in p and "x_{0}^2" in p for p in problems), problems


def test_check_explorers_rules():
    good = {"id": "gvx-1", "drawn": True, "moves": [{"name": "z1", "changed": True}]}
    assert sc.check_explorers([good]) == []
    assert "did not change" in sc.check_explorers([{**good, "moves": [{"name": "z1", "changed": False}]}])[0]
    assert "never drew" in sc.check_explorers([{**good, "drawn": False}])[0]
    assert "no range input" in sc.check_explorers([{**good, "moves": []}])[0]


def test_every_notebook_is_in_the_toc():
    """only_build_toc_files drops a notebook that _toc.yml does not list, without a warning."""
    listed = set(DOCS)
    missing = [p.name for p in sorted((REPO / "book").glob("*.ipynb"))
               if f"book/{p.stem}" not in listed]
    assert not missing, f"notebooks not in _toc.yml (the site would not show them): {missing}"


def test_expected_colab_url_follows_config():
    org, repo, branch = sc.repository(CONFIG)
    assert sc.expected_colab_url(CONFIG, "book/preface") == (
        f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/book/preface.ipynb")


# --------------------------------------------------------------------------------------------
# The checks can fail: deliberately broken pages
# --------------------------------------------------------------------------------------------


def _png(width=4, height=3) -> bytes:
    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


REPO_URL = CONFIG["repository"]["url"]
GOOD_COLAB = sc.expected_colab_url(CONFIG, "book/x")
GOOD_PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body>
<article>
<h1 id="top">A chapter</h1>
<a class="btn-source-repository-button" href="{REPO_URL}">repo</a>
<a class="btn-source-issues-button" href="{REPO_URL}/issues/new?title=x">issue</a>
<a class="launch" href="{GOOD_COLAB}">Colab</a>
<a class="btn-download-source-button" href="../_sources/book/x.ipynb">.ipynb</a>
<p>See <a href="other.html#sec">the other page</a> and <a href="#top">the top</a>.</p>
<figure><img src="../_images/ok.png" alt="A grey square"><figcaption>A figure.</figcaption></figure>
<p>Plain prose costs $5 and $10, which is not math.</p>
</article></body></html>
"""

# (name, old, new, the problem it must cause)
MUTATIONS = [
    ("broken internal link", 'href="other.html#sec"', 'href="gone.html"', "broken link"),
    ("broken anchor", 'href="other.html#sec"', 'href="other.html#nowhere"', "broken anchor"),
    ("missing image file", "../_images/ok.png", "../_images/missing.png", "image did not load"),
    ("image without alt", ' alt="A grey square"', "", "image without alt text"),
    ("alt is a file name", 'alt="A grey square"', 'alt="../_images/ok.png"', "only a file name"),
    ("wrong Colab URL", GOOD_COLAB, GOOD_COLAB.replace("/blob/", "/blob/gh-pages/"),
     "wrong Colab link"),
    ("no Colab link", f'<a class="launch" href="{GOOD_COLAB}">Colab</a>', "", "no Colab launch link"),
    ("no download button", 'class="btn-download-source-button"', 'class="x"', "no .ipynb download"),
    ("figure without caption", "<figcaption>A figure.</figcaption>", "", "figure without caption"),
    ("raw display math", "which is not math.", "which is $$x^2$$.", "raw TeX"),
    ("math never typeset", "which is not math.",
     'so <span class="math">\\(x^2\\)</span>.', "MathJax did not load"),
    ("console error", "</article>", "<script>console.error('boom')</script></article>",
     "console error: boom"),
    ("script error", "</article>", "<script>undefinedFunction()</script></article>", "page error"),
    ("request to a CDN", "</article>",
     '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script></article>',
     "blocked request to outside the site"),
    ("wrong repository button", f'href="{REPO_URL}">repo', 'href="https://github.com/a/b">repo',
     "repository button"),
]


@pytest.fixture
def synthetic(tmp_path, browser):
    """A two-page site in tmp_path: book/x.html (written by each test) and book/other.html."""
    (tmp_path / "book").mkdir()
    (tmp_path / "_images").mkdir()
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "_images" / "ok.png").write_bytes(_png())
    (tmp_path / "_sources" / "book" / "x.ipynb").write_text("{}")
    (tmp_path / "book" / "other.html").write_text('<html><body><h2 id="sec">S</h2></body></html>')
    (tmp_path / "index.html").write_text('<html><body><a href="book/x.html">x</a></body></html>')

    def audit(html: str) -> list[str]:
        (tmp_path / "book" / "x.html").write_text(html, encoding="utf-8")
        with sc.SiteServer(tmp_path) as base:
            s = sc.Session(browser, base)
            try:
                return sc.audit_page(s, tmp_path, "book/x", CONFIG, notebook=True).problems
            finally:
                s.close()

    return audit


@browser_only
def test_synthetic_good_page_passes(synthetic):
    assert synthetic(GOOD_PAGE) == []


@browser_only
@pytest.mark.parametrize("name,old,new,expected", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_synthetic_broken_page_fails(synthetic, name, old, new, expected):
    assert old in GOOD_PAGE, f"mutation {name!r} does not apply"
    problems = synthetic(GOOD_PAGE.replace(old, new, 1))
    assert any(expected in p for p in problems), (name, problems)


@browser_only
def test_mutated_real_build_fails(browser, site_root, tmp_path):
    """A copy of the real _build/html with a broken link, a missing image and a wrong Colab URL."""
    copy = tmp_path / "html"
    shutil.copytree(site_root, copy, ignore=shutil.ignore_patterns("mathjax"))
    (copy / "_static" / "mathjax").symlink_to(site_root / "_static" / "mathjax")
    doc = next(d for d in DOCS if sc.is_notebook(d))
    page = copy / f"{doc}.html"
    html = page.read_text(encoding="utf-8")
    colab = sc.expected_colab_url(CONFIG, doc)
    assert colab in html
    html = html.replace(colab, colab.replace(CONFIG["repository"]["url"].split("/")[-1], "wrong"))
    html = html.replace('href="glossary.html"', 'href="glossay.html"', 1)
    assert 'href="glossay.html"' in html, "no link to the glossary to break"
    page.write_text(html, encoding="utf-8")
    (copy / "_static" / "images" / "logo_colab.png").unlink()
    with sc.SiteServer(copy) as base:
        s = sc.Session(browser, base)
        try:
            problems = sc.audit_page(s, copy, doc, CONFIG, notebook=True).problems
        finally:
            s.close()
    text = "\n".join(problems)
    for expected in ("wrong Colab link", "broken link: 'glossay.html'",
                     "image did not load: ../_static/images/logo_colab.png", "HTTP 404"):
        assert expected in text, f"{expected!r} not reported; got:\n{text}"


# --------------------------------------------------------------------------------------------
# The pure checks, without a browser
# --------------------------------------------------------------------------------------------


def test_check_links_on_files(tmp_path):
    (tmp_path / "a.html").write_text('<p id="here">x</p><a name="old">y</a>')
    base = "http://127.0.0.1:1/"
    links = [{"href": h, "url": base + h} for h in
             ("a.html", "a.html#here", "a.html#old", "a.html#gone", "b.html", "#")]
    links.append({"href": "https://example.org/", "url": "https://example.org/"})
    problems = sc.check_links(links, base, tmp_path)
    assert problems == ["broken anchor: 'a.html#gone' -> no id 'gone' in a.html",
                        "broken link: 'b.html' -> no file b.html"]


def test_check_math_width_rules():
    eq = dict(tex="a", left=0, right=700, boxLeft=0, boxRight=700, scrolls=False)
    assert sc.check_math_width([{**eq, "natural": 650}], phone=False) == []
    assert "wider than the text column by 100 px" in sc.check_math_width([{**eq, "natural": 800}], phone=False)[0]
    # on a phone a wide equation is fine if it scrolls inside a box that stays in the column
    assert sc.check_math_width([{**eq, "natural": 800, "scrolls": True}], phone=True) == []
    assert "cut off" in sc.check_math_width([{**eq, "natural": 800}], phone=True)[0]
    assert "cut off" in sc.check_math_width([{**eq, "natural": 800, "scrolls": True, "boxRight": 900}],
                                            phone=True)[0]


def test_check_images_rules():
    ok = {"src": "a.png", "complete": True, "naturalWidth": 3, "alt": "A plot"}
    assert sc.check_images([ok]) == []
    assert sc.check_images([{**ok, "naturalWidth": 0}]) == ["image did not load: a.png"]
    assert sc.check_images([{**ok, "alt": " "}]) == ["image without alt text: a.png"]
    assert "only a file name" in sc.check_images([{**ok, "alt": "a.png"}])[0]


def test_check_nav_order_and_numbers():
    base = "http://127.0.0.1:1/"
    entries = [("book/p", ""), ("book/a", "1"), ("book/b", "2"), ("book/z", "")]
    good = [{"url": base + "book/p.html", "text": "P"}, {"url": base + "book/a.html", "text": "1. A"},
            {"url": base + "book/b.html", "text": "2. B"}, {"url": base + "book/z.html", "text": "Z"}]
    assert sc.check_nav(good, entries, base) == []
    swapped = [good[0], {**good[2], "text": "1. B"}, {**good[1], "text": "2. A"}, good[3]]
    assert any("order" in p for p in sc.check_nav(swapped, entries, base))
    unnumbered = [good[0], {**good[1], "text": "A"}, good[2], good[3]]
    assert any("expected '1. ...'" in p for p in sc.check_nav(unnumbered, entries, base))
    nested = entries[:3] + [("book/c", "2.1")] + entries[3:]
    with_c = good[:3] + [{"url": base + "book/c.html", "text": "2.1. C"}] + good[3:]
    assert sc.check_nav(with_c, nested, base) == []
    misnumbered = good[:3] + [{"url": base + "book/c.html", "text": "3. C"}] + good[3:]
    assert any("expected '2.1. ...'" in p for p in sc.check_nav(misnumbered, nested, base))
