"""The Chinese edition's message catalogs (``locales/zh_CN/LC_MESSAGES/book/*.po``), read with Babel
(Sphinx's own dependency): coverage per page, the glossary's terms, and the markup a translation must
keep. Used by tests/test_catalogs.py and by ``python tests/catalogs.py`` (a report for translators).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "book"
GLOSSARY = ROOT / "book" / "glossary.md"
ARTICLE = ROOT.parent / "shared" / "000_87cfa09396c3687d.txt"
MIN_COVERAGE = 0.98

# Inline markup that a translation keeps character for character: MyST roles ({cite}`key`, {doc}`page`;
# {ref}`text <label>` keeps its label, its text is translated), inline math, inline code, URLs.
_ROLE = re.compile(r"\{(cite|cite:p|cite:t|doc|numref|eq|download)\}`[^`]*`")
_REF_LABEL = re.compile(r"\{ref\}`(?:[^`<]*<)?([^`>]+)>?`")
_MATH = re.compile(r"(?<![\\$])\$\$?[^$]+\$\$?")
_CODE = re.compile(r"(?<!\})``?[^`]+``?")
_URL = re.compile(r"https?://[^\s)>\]]+")


@dataclass
class Message:
    page: str
    id: str
    string: str
    fuzzy: bool
    lineno: int
    comments: tuple = ()

    @property
    def translated(self) -> bool:
        return bool(self.string.strip()) and not self.fuzzy


def is_display_math(text: str) -> bool:
    """Whether a message is a display equation: Sphinx extracts some (dollarmath and amsmath blocks)
    as messages, which begin with a newline or a LaTeX command, or hold no word outside LaTeX."""
    if text.startswith(("\n", "\\")):
        return True
    if "$" in text or not re.search(r"\\[A-Za-z]+", text):
        return False
    return not re.search(r"[A-Za-z]{4,}", re.sub(r"\\(text|mathrm|operatorname)\{[^}]*\}|\\[A-Za-z]+", " ", text))


def needs_translation(text: str) -> bool:
    """Whether a message has words to translate (not only numbers, math, code or punctuation)."""
    return not is_display_math(text) and bool(re.search(r"[A-Za-z]{2,}", prose_only(text)))


def changed_math(page: str) -> list[Message]:
    """Display equations of ``page`` whose msgstr is neither empty nor the English: math stays as it is."""
    return [Message(page, m.id, m.string, m.fuzzy, m.lineno) for m in _catalog(page)
            if m.id and isinstance(m.id, str) and is_display_math(m.id) and m.string not in ("", m.id)]


def prose_only(text: str) -> str:
    """``text`` without the markup a translation keeps unchanged (roles, math, code, URLs)."""
    for pattern in (_ROLE, _MATH, _CODE, _URL):
        text = pattern.sub(" ", text)
    return _REF_LABEL.sub(" ", text)


def _catalog(page: str):
    """``page``'s catalog, read with Babel."""
    from babel.messages.pofile import read_po

    with open(LOCALE / f"{page}.po", "rb") as f:
        return read_po(f)


def pages() -> list[str]:
    return sorted(p.stem for p in LOCALE.glob("*.po"))


def messages(page: str) -> list[Message]:
    return [Message(page, m.id, m.string or "", m.fuzzy, m.lineno, tuple(m.user_comments)) for m in _catalog(page)
            if m.id and isinstance(m.id, str) and needs_translation(m.id)]


def translations(page: str) -> dict[str, str]:
    """Every msgid of ``page`` (math-only ones too) and its msgstr."""
    return {m.id: m.string or "" for m in _catalog(page) if m.id and isinstance(m.id, str)}


def exempt_terms(m: Message) -> set[str]:
    """Glossary terms a translator comment marks as another word in this message, e.g. the line
    ``# not-a-term: Rate (the learning rate)`` above a msgid that says "at that rate"."""
    out = set()
    for c in m.comments:
        hit = re.match(r"\s*not-a-term:\s*([^(]+)", c)
        if hit:
            out.add(hit.group(1).strip().lower())
    return out


def coverage(page: str) -> tuple[float, list[Message]]:
    """The share of ``page``'s messages translated (fuzzy ones count as not), and those that are not."""
    msgs = messages(page)
    missing = [m for m in msgs if not m.translated]
    return (1.0 - len(missing) / len(msgs)) if msgs else 1.0, missing


def glossary_terms(path: Path = GLOSSARY) -> list[tuple[str, str]]:
    """(English term, its Chinese term) for every entry of the glossary: the English is the entry's
    name without a parenthesis ("Generative adversarial network (GAN)" -> "Generative adversarial
    network"); the Chinese is the definition's first words, up to the first '.', ',', ' (' or ' /'
    ("模式坍塌 (also 模式崩溃)." -> "模式坍塌"). Longest English terms first."""
    block = path.read_text(encoding="utf-8").split("```{glossary}", 1)[1].split("```", 1)[0]
    out, name = [], None
    for line in block.splitlines():
        if line and not line.startswith(" "):
            name = re.sub(r"\s*\([^)]*\)", "", line).strip()
        elif name and line.strip():
            chinese = re.split(r"\.\s|\.$|,\s| \(|（| /", line.strip(), maxsplit=1)[0].strip()
            out.append((name, chinese))
            name = None
    return sorted(out, key=lambda t: -len(t[0]))


# Terms whose plural is more often another word: "rates" is mostly the verb ("the discriminator rates").
_NO_PLURAL = {"Rate"}


def _term_pattern(term: str) -> re.Pattern:
    words = re.escape(term).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]")
    plural = "" if term in _NO_PLURAL else r"(?:s|es)?"
    return re.compile(r"(?<![\w-])" + words + plural + r"(?![\w-])", re.IGNORECASE)


def term_violations(msgs: list[Message], terms: list[tuple[str, str]] | None = None) -> list[tuple[Message, str, str]]:
    """Translated messages whose English names a glossary term that the translation does not render
    with the glossary's Chinese term: (message, English term, Chinese term). A longer term hides the
    shorter ones inside it ("learning rate" is not also "rate")."""
    terms = glossary_terms() if terms is None else terms
    out = []
    for m in msgs:
        if not m.translated:
            continue
        text = prose_only(m.id)
        taken = []
        exempt = exempt_terms(m)
        for english, chinese in terms:
            if english.lower() in exempt:
                continue
            for hit in _term_pattern(english).finditer(text):
                if any(a < hit.end() and hit.start() < b for a, b in taken):
                    continue
                taken.append(hit.span())
                if chinese not in m.string:
                    out.append((m, english, chinese))
                    break
    return out


def markup_differences(m: Message) -> list[str]:
    """What of ``m``'s kept markup (roles, ref labels, math, code, URLs) its translation lost or changed."""
    if not m.translated:
        return []
    problems = []
    roles = [sorted(x.group(0) for x in _ROLE.finditer(t)) for t in (m.id, m.string)]
    if roles[0] != roles[1]:
        problems.append(f"role: {sorted(set(roles[0]) ^ set(roles[1])) or 'count differs'}")
    labels = [sorted(_REF_LABEL.findall(t)) for t in (m.id, m.string)]
    if labels[0] != labels[1]:
        problems.append(f"ref labels: {labels[0]} vs {labels[1]}")
    rest = [_REF_LABEL.sub(" ", _ROLE.sub(" ", t)) for t in (m.id, m.string)]
    for name, pattern in (("math", _MATH), ("code", _CODE), ("url", _URL)):
        want, got = (set(pattern.findall(t)) for t in rest)
        if want != got:
            problems.append(f"{name}: {sorted(want ^ got)}")
    return problems


def report() -> int:
    terms = glossary_terms()
    bad = 0
    for page in pages():
        share, missing = coverage(page)
        msgs = messages(page)
        terms_bad = term_violations(msgs, terms)
        markup_bad = [(m, markup_differences(m)) for m in msgs if markup_differences(m)]
        markup_bad += [(m, ["display math must stay as in the English (empty msgstr or a copy)"])
                       for m in changed_math(page)]
        print(f"{page:22s} {100 * share:6.1f} % translated ({len(msgs) - len(missing)}/{len(msgs)}), "
              f"{len(terms_bad)} term problems, {len(markup_bad)} markup problems")
        for m, english, chinese in terms_bad:
            print(f"   term  line {m.lineno}: '{english}' must be '{chinese}': {m.string[:80]!r}")
        for m, problems in markup_bad:
            print(f"   markup line {m.lineno}: {'; '.join(problems)}")
        if "-v" in sys.argv:
            for m in missing:
                print(f"   untranslated line {m.lineno}: {m.id[:80]!r}")
        bad += bool(missing or terms_bad or markup_bad)
    return bad


def export(page: str, path: Path) -> None:
    """Every message of ``page`` that needs translating, as JSON {msgid: msgstr} (msgstr "" if missing)."""
    import json

    data = {m.id: (m.string if m.translated else "") for m in messages(page)}
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def apply(page: str, path: Path) -> int:
    """Set the msgstr of ``page``'s messages from a JSON {msgid: msgstr} file (empty strings are skipped,
    fuzzy flags removed); returns how many were set. Unknown msgids are an error."""
    import json

    from babel.messages.pofile import write_po

    data = {k: v for k, v in json.loads(Path(path).read_text(encoding="utf-8")).items() if v}
    po = LOCALE / f"{page}.po"
    catalog = _catalog(page)
    unknown = [k for k in data if k not in catalog]
    if unknown:
        raise SystemExit(f"{len(unknown)} msgids not in {po.name}, e.g. {unknown[0][:80]!r}")
    for k, v in data.items():
        catalog[k].string = v
        catalog[k].flags.discard("fuzzy")
    with open(po, "wb") as f:
        write_po(f, catalog, width=76)  # as sphinx-intl update writes them
    return len(data)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("export", "apply"):
        result = (export if sys.argv[1] == "export" else apply)(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(1 if report() else 0)
