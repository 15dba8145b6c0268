"""Small Sphinx fixes for the book's website (loaded from _config.yml: sphinx.local_extensions; lives in book/_ext).

Sphinx 7.4 lists an inline script twice when an extension adds it after the builder starts
(``filename=None`` on the builder, ``''`` in the registry, so its de-duplication misses it).
sphinx-thebe's ``const THEBE_JS_URL = ...`` then runs twice and every page logs
"SyntaxError: Identifier 'THEBE_JS_URL' has already been declared". This drops the repeats
from each page's script list (the browser test in tests/test_site.py fails on console errors).
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (getattr(js, "filename", js) or "", getattr(js, "priority", 0),
               tuple(sorted((getattr(js, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
