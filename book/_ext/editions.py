"""The book's two editions: English at the site's root, Chinese under ``zh/``, from the same notebooks.

As a Sphinx extension (``_config.yml``: ``sphinx.local_extensions``) it gives every page a link to the
same page in the other edition, at the top of the sidebar (``book/_templates/edition-switch.html``),
and ``<link rel="alternate" hreflang>`` tags for search engines.

As a script it runs the two builds that ``jupyter-book build`` cannot (it has no ``-D language=``):

    python book/_ext/editions.py gettext      # _build/gettext/book/*.pot, then `sphinx-intl update` into locales/
    python book/_ext/editions.py zh [--strict] # the Chinese edition into _build/html/zh

Both use Jupyter Book's own configuration (``_config.yml``, ``_toc.yml``) through its Python API, with
``language = "zh_CN"`` (Sphinx then translates every message from ``locales/zh_CN``, and the themes'
own interface strings) and the Chinese title. Each build keeps its own doctrees folder: an environment
built for one language or builder cannot be reused by another.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sphinx.transforms import SphinxTransform

ROOT = Path(__file__).resolve().parents[2]
EDITIONS = {"en": "", "zh_CN": "zh/"}  # language -> folder under the site's root
HREFLANG = {"en": "en", "zh_CN": "zh-CN"}
SWITCH_TEXT = {"en": "中文版", "zh_CN": "English edition"}
TITLE_ZH = "GAN 与 VAE：一本可执行的书"
# Settings whose text no catalog holds: the title, and MyST-NB's show/hide labels of hidden cells.
ZH_OVERRIDES = {"language": "zh_CN", "html_title": TITLE_ZH,
                "nb_code_prompt_show": "显示代码单元", "nb_code_prompt_hide": "隐藏代码单元"}


def _edition_context(app, pagename, templatename, context, doctree):
    language = app.config.language or "en"
    if language not in EDITIONS:
        return
    up = "../" * pagename.count("/")  # from this page to its edition's root
    to_site_root = up + ("../" if EDITIONS[language] else "")
    other = "zh_CN" if language == "en" else "en"
    url = f"{to_site_root}{EDITIONS[other]}{pagename}.html"
    context["edition_switch"] = {"url": url, "text": SWITCH_TEXT[language], "lang": HREFLANG[other]}
    links = "".join(f'\n<link rel="alternate" hreflang="{HREFLANG[lang]}" href="{to_site_root}{folder}{pagename}.html" />'
                    for lang, folder in EDITIONS.items())
    context["metatags"] = context.get("metatags", "") + links


class TranslateToctreeCaptions(SphinxTransform):
    """The sidebar's part captions ("Chapters", "Back matter") in the page's language. They come from
    _toc.yml through sphinx-external-toc, whose toctrees are inserted (priority 100) after Sphinx's own
    translation step (priority 20) has run, so their captions would stay English although the
    gettext builder extracts them into the root page's catalog; this looks them up there."""

    default_priority = 101

    def apply(self, **kwargs):
        from os import path

        from sphinx import addnodes
        from sphinx.locale import init as init_locale
        from sphinx.util.i18n import docname_to_domain

        if not self.config.language or self.config.language == "en":
            return
        dirs = [path.join(self.env.srcdir, d) for d in self.config.locale_dirs]
        catalog, has_catalog = init_locale(dirs, self.config.language,
                                           docname_to_domain(self.env.docname, self.config.gettext_compact))
        if not has_catalog:
            return
        for node in self.document.findall(addnodes.toctree):
            if node.get("caption"):
                node["caption"] = catalog.gettext(node["caption"])


def setup(app):
    app.connect("html-page-context", _edition_context)
    app.add_transform(TranslateToctreeCaptions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _build(builder: str, outdir: Path, doctrees: Path, overrides: dict, strict: bool) -> int:
    from jupyter_book.sphinx import build_sphinx

    overrides = {"external_toc_path": "_toc.yml", "latex_individualpages": False, **overrides}
    if strict:
        overrides["nitpicky"] = True
    return build_sphinx(ROOT, outdir, noconfig=True, path_config=str(ROOT / "_config.yml"),
                        confoverrides=overrides, doctreedir=doctrees, builder=builder,
                        warningiserror=strict, keep_going=strict, freshenv=strict, quiet=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("gettext", "zh"):
        print(__doc__)
        return 2
    strict = "--strict" in argv
    if argv[0] == "gettext":
        rc = _build("gettext", ROOT / "_build" / "gettext", ROOT / "_build" / ".doctrees-gettext", {}, strict)
        if rc:
            return rc
        return subprocess.call([sys.executable, "-m", "sphinx_intl", "update", "-p", str(ROOT / "_build" / "gettext"),
                                "-l", "zh_CN", "-d", str(ROOT / "locales")], cwd=ROOT)
    rc = _build("html", ROOT / "_build" / "html" / "zh", ROOT / "_build" / ".doctrees-zh",
                ZH_OVERRIDES, strict)
    if rc == 0:
        print(f"Chinese edition: {ROOT / '_build' / 'html' / 'zh' / 'index.html'}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
