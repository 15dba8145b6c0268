"""Reader-side checks of the built website, shared by ``tests/test_site.py`` and a command line.

The site is served from a folder on 127.0.0.1 and every page is opened in headless Debian Chromium
(through Playwright, with the browser's own networking features off and every request that is not
for 127.0.0.1 blocked and recorded). Each check returns a list of problems, one line each, so the
same functions judge the real ``_build/html`` and the deliberately broken pages of the tests.

Command line (prints one line per problem, exits 1 if there is any)::

    .venv/bin/python tests/site_checks.py [_build/html] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags that let Chromium start quietly on a machine with a closed network (no profile sync,
# no component updates, no background requests to Google's hosts). Playwright gives each launch
# a new, empty profile directory of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COLAB = "https://colab.research.google.com"
PAGE_TIMEOUT_MS = 30_000
MATH_TIMEOUT_MS = 20_000


# --------------------------------------------------------------------------------------------
# The book's configuration
# --------------------------------------------------------------------------------------------


def load_config(repo: Path = REPO) -> dict:
    import yaml

    return yaml.safe_load((repo / "_config.yml").read_text(encoding="utf-8"))


def load_toc(repo: Path = REPO) -> dict:
    import yaml

    return yaml.safe_load((repo / "_toc.yml").read_text(encoding="utf-8"))


def _strip_ext(name: str) -> str:
    return re.sub(r"\.(ipynb|md|rst)$", "", name)


def toc_entries(repo: Path = REPO) -> list[tuple[str, str]]:
    """(docname, number) for every page in _toc.yml, in reading order (root first).

    ``number`` is the section number Sphinx shows ("4", "4.1"), or "" for unnumbered pages.
    """
    toc = load_toc(repo)
    out = [(_strip_ext(toc["root"]), "")]

    def walk(items, numbered, prefix):
        for i, item in enumerate(items or [], start=1):
            number = f"{prefix}{i}" if numbered else ""
            if "file" in item:
                out.append((_strip_ext(item["file"]), number))
            walk(item.get("sections"), numbered, f"{number}.")

    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        walk(part.get("chapters"), bool(part.get("numbered", False)), "")
    return out


def toc_docnames(repo: Path = REPO) -> list[str]:
    return [d for d, _ in toc_entries(repo)]


def is_notebook(docname: str, repo: Path = REPO) -> bool:
    return (repo / f"{docname}.ipynb").is_file()


def repository(config: dict) -> tuple[str, str, str]:
    """(org, repo, branch) from _config.yml's repository.url and repository.branch."""
    url = config["repository"]["url"].rstrip("/")
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(\.git)?", url)
    if not m:
        raise ValueError(f"repository.url is not a GitHub repository URL: {url!r}")
    return m.group(1), m.group(2), str(config["repository"].get("branch", "main"))


def expected_colab_url(config: dict, docname: str) -> str:
    org, repo, branch = repository(config)
    return f"{COLAB}/github/{org}/{repo}/blob/{branch}/{docname}.ipynb"


# --------------------------------------------------------------------------------------------
# Serving a folder on 127.0.0.1
# --------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


class SiteServer:
    """``with SiteServer(folder) as base_url:`` serves the folder on 127.0.0.1, any free port."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __enter__(self) -> str:
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# Pure checks: facts gathered from a page in, problems out
# --------------------------------------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "id" or (k == "name" and tag == "a"):
                if v:
                    self.ids.add(v)


@functools.lru_cache(maxsize=256)
def _ids_of(path: str, mtime: float) -> frozenset[str]:
    parser = _Ids()
    parser.feed(Path(path).read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def anchor_ids(path: Path) -> frozenset[str]:
    """Every id (and <a name>) in an HTML file."""
    return _ids_of(str(path), path.stat().st_mtime)


def local_target(url: str, base_url: str, site_root: Path) -> tuple[Path, str] | None:
    """(file, fragment) for a URL served from ``base_url``, or None for any other URL."""
    if not url.startswith(base_url):
        return None
    parts = urlsplit(url)
    rel = unquote(parts.path)[len(urlsplit(base_url).path):]
    target = site_root / rel
    if rel == "" or rel.endswith("/"):
        target = target / "index.html"
    return target, unquote(parts.fragment)


def check_links(links: list[dict], base_url: str, site_root: Path) -> list[str]:
    """Every link to a page of the site must name an existing file and, with #x, an existing id.

    ``links`` are ``{"href": attribute as written, "url": absolute URL}``.
    """
    problems = []
    for link in links:
        href, url = link["href"], link["url"]
        if href.startswith(("javascript:", "mailto:")) or href in ("", "#"):
            continue
        hit = local_target(url, base_url, site_root)
        if hit is None:
            continue
        target, fragment = hit
        if not target.is_file():
            problems.append(f"broken link: {href!r} -> no file {target.relative_to(site_root)}")
            continue
        if fragment and target.suffix == ".html" and fragment not in anchor_ids(target):
            problems.append(
                f"broken anchor: {href!r} -> no id {fragment!r} in {target.relative_to(site_root)}")
    return problems


_FILENAME_ALT = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)


def check_images(images: list[dict]) -> list[str]:
    """Every <img> must have loaded (naturalWidth > 0) and carry real alt text.

    Docutils fills a missing alt with the image's URI, so an alt that looks like a file name
    counts as missing.
    """
    problems = []
    for img in images:
        src = img.get("src") or ""
        if not src:
            problems.append("image without src")
        elif not img.get("complete") or not img.get("naturalWidth"):
            problems.append(f"image did not load: {src}")
        alt = (img.get("alt") or "").strip()
        if not alt:
            problems.append(f"image without alt text: {src}")
        elif alt == src or _FILENAME_ALT.search(alt):
            problems.append(f"image alt text is only a file name ({alt!r}): {src}")
    return problems


def check_figures(figures: list[dict]) -> list[str]:
    return [f"figure without caption: {f.get('img') or '(no image)'}"
            for f in figures if not (f.get("caption") or "").strip()]


def check_math(math: dict) -> list[str]:
    """Math must be typeset by MathJax: nothing left as raw TeX on the page."""
    problems = []
    if math["nodes"] and not math["mathjax"]:
        problems.append(f"{math['nodes']} math elements but MathJax did not load")
    if math["nodes"] > math["rendered"]:
        problems.append(f"math not rendered: {math['nodes'] - math['rendered']} of "
                        f"{math['nodes']} math elements have no mjx-container")
    for snippet in math["raw"][:5]:
        problems.append(f"raw TeX left on the page: {snippet!r}")
    if math["errors"]:
        problems.append(f"MathJax errors: {math['errors'][:3]}")
    return problems


def check_colab(colab_links: list[str], docname: str, notebook: bool, config: dict) -> list[str]:
    """A notebook page has exactly one Colab link, to this notebook at the book's repo/branch."""
    if not notebook:
        return [f"Colab link on a page that is not a notebook: {u}" for u in colab_links]
    want = expected_colab_url(config, docname)
    if not colab_links:
        return [f"no Colab launch link (expected {want})"]
    return [f"wrong Colab link: {u} (expected {want})" for u in colab_links if u != want]


def check_download(downloads: list[str], docname: str, notebook: bool) -> list[str]:
    if not notebook:
        return []
    want = f"_sources/{docname}.ipynb"
    if not any(urlsplit(u).path.endswith(want) for u in downloads):
        return [f"no .ipynb download button linking to {want} (found {downloads})"]
    return []


def check_repo_buttons(buttons: dict, config: dict) -> list[str]:
    url = config["repository"]["url"].rstrip("/")
    problems = []
    if buttons.get("repository") != url:
        problems.append(f"repository button is {buttons.get('repository')!r}, expected {url!r}")
    if not (buttons.get("issues") or "").startswith(url + "/issues"):
        problems.append(f"issues button is {buttons.get('issues')!r}, expected {url}/issues...")
    return problems


def check_nav(nav: list[dict], entries: list[tuple[str, str]], base_url: str) -> list[str]:
    """The sidebar lists the toc's pages in order; numbered ones read "1. ", "4.1. ", ..."""
    problems = []
    got = []
    for item in nav:
        path = urlsplit(item["url"]).path
        rel = path[len(urlsplit(base_url).path):]
        got.append((re.sub(r"\.html$", "", rel), item["text"].strip()))
    docs = [d for d, _ in got]
    want = [d for d, _ in entries]
    # The root page is the site's index: it may appear as index or under its own name.
    docs = [want[0] if d in ("index", "") else d for d in docs]
    if [d for d in docs if d in want] != [d for d in want if d in docs]:
        problems.append(f"sidebar order {docs} differs from _toc.yml {want}")
    missing = [d for d in want[1:] if d not in docs]
    if missing:
        problems.append(f"pages missing from the sidebar: {missing}")
    for doc, number in entries:
        if not number:
            continue
        texts = [t for d, t in got if d == doc]
        if texts and not texts[0].startswith(f"{number}. "):
            problems.append(f"sidebar entry for {doc} is {texts[0]!r}, expected '{number}. ...'")
    return problems


# --------------------------------------------------------------------------------------------
# The browser side
# --------------------------------------------------------------------------------------------

# Runs in the page: gathers what the checks above judge.
_FACTS_JS = r"""
async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === 'lazy') img.loading = 'eager'; }
  await Promise.all(imgs.map(img => img.complete ? null :
      Promise.race([img.decode().catch(() => null), new Promise(r => setTimeout(r, 5000))])));
  const images = imgs.map(img => ({src: img.getAttribute('src'), url: img.currentSrc || img.src,
      complete: img.complete, naturalWidth: img.naturalWidth, alt: img.getAttribute('alt')}));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({
      href: a.getAttribute('href'), url: a.href, text: a.textContent.trim()}));
  const article = document.querySelector('article') || document.body;
  const figures = Array.from(article.querySelectorAll('figure')).map(f => {
      const img = f.querySelector('img'); const cap = f.querySelector('figcaption');
      return {img: img ? img.getAttribute('src') : null, caption: cap ? cap.textContent : ''};});
  // Math: Sphinx marks every formula with class "math"; MathJax puts an mjx-container inside.
  const mathNodes = Array.from(document.querySelectorAll('.math'));
  const rendered = mathNodes.filter(n => n.querySelector('mjx-container')).length;
  const raw = [];
  const skip = 'pre, code, script, style, textarea, kbd, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = /\$\$|\\\(|\\\[|\\begin\{|\$[^$\n]*[\\^_][^$\n]*\$/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(tex);
    if (m) raw.push(n.textContent.trim().slice(0, 80));
  }
  const errors = Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent);
  const nav = Array.from(document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal'))
      .map(a => ({url: a.href, text: a.textContent}));
  const pick = sel => { const a = document.querySelector(sel); return a ? a.href : null; };
  // The prose a reader reads (not code, outputs or math): for the checks of the Chinese edition.
  const prose = (sel, not = '') => Array.from((document.querySelector('article') || document.body).querySelectorAll(sel))
      .filter(e => !e.closest('.cell_output, .output, pre, .highlight, .bibliography, .citation, .toctree-wrapper' + not))
      .map(e => { const c = e.cloneNode(true); c.querySelectorAll('.math, mjx-container, code, a.headerlink')
                    .forEach(x => x.remove()); return c.textContent.replace(/\s+/g, ' ').trim(); })
      .filter(t => /[A-Za-z\u4e00-\u9fff]{2}/.test(t));
  return {
    title: document.title,
    lang: document.documentElement.lang,
    text: {headings: prose('h1, h2, h3'), paragraphs: prose('p, li > p, figcaption', ', td, th'), cells: prose('td')},
    edition: pick('.edition-switch a'),
    h1: (document.querySelector('h1') || {textContent: ''}).textContent.trim(),
    images, links, figures, nav,
    math: {nodes: mathNodes.length, rendered, raw, errors, mathjax: !!(window.MathJax && window.MathJax.version)},
    colab: links.map(l => l.url).filter(u => u.startsWith('https://colab.research.google.com')),
    downloads: Array.from(document.querySelectorAll('a.btn-download-source-button')).map(a => a.href),
    buttons: {repository: pick('a.btn-source-repository-button'), issues: pick('a.btn-source-issues-button')},
  };
}
"""

_WAIT_MATH_JS = """
async () => {
  if (!document.querySelector('.math')) return 'no math';
  if (!window.MathJax && !document.querySelector('script[src*="mathjax" i]')) return 'MathJax never started';
  const t0 = Date.now();
  while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
    if (Date.now() - t0 > %d) return 'MathJax never started';
    await new Promise(r => setTimeout(r, 100));
  }
  await window.MathJax.startup.promise;
  return 'typeset';
}
""" % MATH_TIMEOUT_MS


# Runs in the page: every display equation typeset by MathJax, its natural width and its box, and
# the text column (the article's content box) it has to fit in.
_MATH_WIDTH_JS = r"""
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('article')
      || document.body;
  const rect = article.getBoundingClientRect(), st = getComputedStyle(article);
  const left = rect.left + parseFloat(st.paddingLeft), right = rect.right - parseFloat(st.paddingRight);
  const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
  const out = [];
  for (const item of (doc ? Array.from(doc.math) : [])) {
    if (!item.display || !item.typesetRoot || !item.typesetRoot.isConnected) continue;
    const box = item.typesetRoot.getBoundingClientRect();
    const inner = item.typesetRoot.querySelector('mjx-math') || item.typesetRoot;
    const ox = getComputedStyle(item.typesetRoot).overflowX;
    out.push({tex: item.math.replace(/\s+/g, ' ').trim().slice(0, 70), natural: inner.getBoundingClientRect().width,
              boxLeft: box.left, boxRight: box.right, left, right,
              scrolls: (ox === 'auto' || ox === 'scroll')
                       && item.typesetRoot.scrollWidth > item.typesetRoot.clientWidth});
  }
  return out;
}
"""
# Window widths at which display equations are measured: a desktop browser and a phone.
DESKTOP_WIDTH, PHONE_WIDTH = 1400, 400


def check_math_width(equations: list[dict], phone: bool) -> list[str]:
    """At desktop width every display equation fits the text column; on a phone an equation that
    does not fit must scroll inside its own box, which itself stays inside the column."""
    problems = []
    for eq in equations:
        column = eq["right"] - eq["left"]
        over = eq["natural"] - column
        if over <= 1:
            continue
        if not phone:
            problems.append(f"display equation wider than the text column by {over:.0f} px at "
                            f"{DESKTOP_WIDTH} px: {eq['tex']!r}")
        elif not (eq["scrolls"] and eq["boxLeft"] >= eq["left"] - 1 and eq["boxRight"] <= eq["right"] + 1):
            problems.append(f"display equation cut off at {PHONE_WIDTH} px (wider than the column by "
                            f"{over:.0f} px and not scrolling in its own box): {eq['tex']!r}")
    return problems


def interaction_problems(session: "Session", url: str, screenshot: Path | None = None) -> dict:
    """One visit of ``url`` for what a reader does beyond reading: at desktop width, the display
    equations' widths and every explorer's sliders; then, narrowed to a phone, the equations again.

    Returns ``{"math": [...], "explorers": n, "explorer": [...], "events": [...]}`` (problems as
    lists of lines; events: console errors and requests outside the site during the visit).
    """
    session.events.clear()
    page = session.new_page()
    try:
        page.set_viewport_size({"width": DESKTOP_WIDTH, "height": 900})
        page.goto(url, wait_until="load")
        page.evaluate(_WAIT_MATH_JS)
        math = check_math_width(page.evaluate(_MATH_WIDTH_JS), phone=False)
        explorers = page.evaluate(_EXPLORER_JS)
        if explorers and screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.locator(".gvutil-explorer").first.screenshot(path=str(screenshot))
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
        page.evaluate(_NEXT_FRAMES_JS)  # the layout at the new width has been drawn
        math += check_math_width(page.evaluate(_MATH_WIDTH_JS), phone=True)
    finally:
        session.close_page(page)
    return {"math": math, "explorers": len(explorers), "explorer": check_explorers(explorers),
            "events": list(session.events)}


def math_width_problems(session: "Session", url: str) -> list[str]:
    """The display-equation checks of :func:`interaction_problems` alone."""
    return interaction_problems(session, url)["math"]


# Resolves after two animation frames: by then the browser has laid out and painted the page again.
_NEXT_FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


# Runs in the page: for every kernel-free explorer (gvutil.widgets' HTML), the canvas before and after
# each range input is moved to its other end, as data URLs, plus whether the canvas was drawn at all.
_EXPLORER_JS = r"""
async () => {
  const out = [];
  for (const root of document.querySelectorAll('.gvutil-explorer')) {
    const canvas = root.querySelector('canvas');
    const t0 = Date.now();
    const blank = document.createElement('canvas');
    blank.width = canvas.width; blank.height = canvas.height;
    while (canvas.toDataURL() === blank.toDataURL() && Date.now() - t0 < 5000)
      await new Promise(r => setTimeout(r, 50));
    const item = {id: root.id, drawn: canvas.toDataURL() !== blank.toDataURL(), moves: []};
    for (const input of root.querySelectorAll('input[type=range]')) {
      const before = canvas.toDataURL();
      input.value = Number(input.value) === Number(input.max) ? input.min : input.max;
      input.dispatchEvent(new Event('input', {bubbles: true}));
      await new Promise(r => setTimeout(r, 50));
      item.moves.push({name: input.getAttribute('aria-label'), changed: canvas.toDataURL() !== before});
    }
    out.push(item);
  }
  return out;
}
"""


def check_explorers(explorers: list[dict]) -> list[str]:
    """Each explorer must draw its image, and each of its sliders must change it."""
    problems = []
    for ex in explorers:
        if not ex["drawn"]:
            problems.append(f"explorer {ex['id']} never drew its image")
        for move in ex["moves"]:
            if not move["changed"]:
                problems.append(f"explorer {ex['id']}: moving {move['name']} did not change the image")
        if not ex["moves"]:
            problems.append(f"explorer {ex['id']} has no range input")
    return problems


@dataclass
class PageReport:
    docname: str
    url: str
    problems: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


def launch(playwright):
    """Headless Debian Chromium (Playwright cannot download its own browser here)."""
    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y "
            "--no-install-recommends chromium) or set CHROMIUM to a Chromium binary")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class Session:
    """Opens pages as a first-time reader: each page in a new browser context (empty storage).

    Records console errors, page errors, HTTP errors and failed requests for the site, and blocks
    (and records) every request that is not for the site on 127.0.0.1.
    """

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.events: list[str] = []
        self._contexts = {}

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.events.append(f"blocked request to outside the site: {url}")
            route.abort("blockedbyclient")

    def new_page(self):
        context = self.browser.new_context(viewport={"width": 1280, "height": 860},
                                           service_workers="block")
        context.route("**/*", self._route)
        page = context.new_page()
        self._contexts[id(page)] = context
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.on("console", lambda m: m.type == "error" and self.events.append(
            f"console error: {m.text} ({(m.location or {}).get('url', '')})"))
        page.on("pageerror", lambda e: self.events.append(f"page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and self.events.append(
            f"HTTP {r.status}: {r.url}"))
        page.on("requestfailed", lambda r: r.url.startswith(self.base_url) and self.events.append(
            f"request failed: {r.url} ({r.failure})"))
        return page

    def close_page(self, page):
        context = self._contexts.pop(id(page), None)
        page.close()
        if context is not None:
            context.close()

    def close(self):
        for context in self._contexts.values():
            context.close()
        self._contexts.clear()


def audit_page(session: Session, site_root: Path, docname: str, config: dict, *,
               notebook: bool, path: str | None = None, screenshot: Path | None = None,
               entries: list[tuple[str, str]] | None = None) -> PageReport:
    """Open one page as a reader would and run every check on it."""
    url = session.base_url + (path or f"{docname}.html")
    report = PageReport(docname, url)
    session.events.clear()
    page = session.new_page()
    try:
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            report.problems.append(f"page did not load: {url} "
                                   f"(status {response.status if response else None})")
            return report
        state = page.evaluate(_WAIT_MATH_JS)
        if state == "MathJax never started":
            report.problems.append("MathJax never started (no MathJax script, or it was blocked)")
        page.wait_for_load_state("networkidle")  # late requests (and their console errors) are in
        facts = page.evaluate(_FACTS_JS)
        report.facts = facts
        p = report.problems
        p += check_images(facts["images"])
        p += check_figures(facts["figures"])
        p += check_links(facts["links"], session.base_url, site_root)
        p += check_math(facts["math"])
        p += check_colab(facts["colab"], docname, notebook, config)
        p += check_download(facts["downloads"], docname, notebook)
        if "repository" in config:
            p += check_repo_buttons(facts["buttons"], config)
        if entries is not None:
            p += check_nav(facts["nav"], entries, session.base_url)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        p += session.events
        report.problems = list(dict.fromkeys(p))  # a link repeated in sidebar and text: once
    finally:
        session.close_page(page)
    return report


def search(session: Session, word: str, start: str) -> list[dict]:
    """Search as a reader does: open the search box on a page, type, press Enter; the hits."""
    page = session.new_page()
    try:
        page.goto(session.base_url + start, wait_until="load")
        page.wait_for_function("() => document.readyState === 'complete'")
        box = page.locator("#pst-search-dialog input[name=q]")
        for attempt in range(3):  # the theme attaches its click handler once its scripts ran
            page.locator("button.search-button__button:visible").first.click()
            try:
                box.wait_for(state="visible", timeout=5000)
                break
            except Exception:
                if attempt == 2:
                    raise
        box.fill(word)
        box.press("Enter")
        page.wait_for_url(re.compile(r"search\.html\?q="))
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary, "
            "#search-results p'); return s && s.textContent.trim().length > 0; }")
        return page.evaluate("""() => Array.from(document.querySelectorAll(
            '#search-results ul.search li a')).map(a => ({url: a.href, text: a.textContent}))""")
    finally:
        session.close_page(page)


def screenshot_name(docname: str) -> str:
    return docname.replace("/", "_") + ".png"


def audit_site(site_root: Path, repo: Path = REPO, screenshots: Path | None = None,
               browser=None) -> list[PageReport]:
    """Every toc page of a built site, plus the search, in one browser. Returns the reports."""
    from playwright.sync_api import sync_playwright

    config, entries = load_config(repo), toc_entries(repo)
    reports = []
    with SiteServer(site_root) as base, sync_playwright() as pw:
        browser = launch(pw)
        session = Session(browser, base)
        try:
            for i, (doc, _) in enumerate(entries):
                reports.append(audit_page(
                    session, site_root, doc, config, notebook=is_notebook(doc, repo),
                    screenshot=screenshots / screenshot_name(doc) if screenshots else None,
                    entries=entries if i == 0 else None))
            report = PageReport("search", base + "search.html")
            hits = search(session, "discriminator", f"{entries[0][0]}.html")
            if not hits:
                report.problems.append("search for 'discriminator' found nothing")
            report.problems += list(dict.fromkeys(session.events))
            reports.append(report)
        finally:
            session.close()
            browser.close()
    return reports


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", nargs="?", default=str(REPO / "_build" / "html"))
    ap.add_argument("--screenshots", default=None, help="folder for one screenshot per page")
    args = ap.parse_args(argv)
    site = Path(args.site).resolve()
    if not (site / "index.html").is_file():
        print(f"no built site at {site}: run `make site` first")
        return 2
    reports = audit_site(site, screenshots=Path(args.screenshots) if args.screenshots else None)
    bad = 0
    for r in reports:
        for problem in r.problems:
            print(f"FAIL {r.docname}: {problem}")
            bad += 1
    print(f"{len(reports)} pages checked, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
