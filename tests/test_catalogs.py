"""The Chinese edition's catalogs (locales/zh_CN): complete, in the glossary's terms, with the English
markup kept, and the errata quoting the article. The checks themselves live in tests/catalogs.py
(``python tests/catalogs.py -v`` prints the same findings as a report for translators); the last tests
feed them constructed messages so that a green run means something."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import catalogs as cat
import site_checks as sc

PAGES = cat.pages()


def test_every_page_of_the_book_has_a_catalog():
    """A page added to _toc.yml needs `make gettext` (and a translation) before it lands."""
    assert sorted(d.split("/", 1)[1] for d in sc.toc_docnames()) == PAGES


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND") == "jax", reason="backend-independent: runs once, in the TensorFlow pass")
def test_todays_english_pages_are_translated(tmp_path):
    """Coverage against the English as it is now: the gettext builder extracts the messages of today's
    pages, and at least 98 % of each page's are translated in its catalog (new or changed English that
    `make gettext` has not merged yet counts as untranslated). Prints the share of every page."""
    from babel.messages.pofile import read_po

    code = ("import sys; sys.path.insert(0, 'book/_ext'); import editions; from pathlib import Path; "
            f"sys.exit(editions._build('gettext', Path({str(tmp_path / 'pot')!r}), Path({str(tmp_path / 'doctrees')!r}), {{}}, False))")
    subprocess.run([sys.executable, "-c", code], cwd=cat.ROOT, check=True, capture_output=True)
    low = []
    for pot in sorted((tmp_path / "pot" / "book").glob("*.pot")):
        with open(pot, "rb") as f:
            extracted = {m.id for m in read_po(f) if m.id and cat.needs_translation(m.id)}
        translated = {m.id for m in cat.messages(pot.stem) if m.translated} if pot.stem in PAGES else set()
        missing = sorted(extracted - translated)
        share = 1 - len(missing) / len(extracted) if extracted else 1.0
        print(f"{pot.stem:22s} {100 * share:6.1f} % of {len(extracted)} messages translated")
        if share < cat.MIN_COVERAGE:
            low.append(f"{pot.stem}: {100 * share:.1f} %; run `make gettext`, then translate:\n    "
                       + "\n    ".join(repr(m[:100]) for m in missing))
    assert not low, "\n".join(low)


@pytest.mark.parametrize("page", PAGES)
def test_page_uses_the_glossary_terms(page):
    bad = cat.term_violations(cat.messages(page))
    assert not bad, "\n".join(f"line {m.lineno}: '{e}' must be translated '{z}': {m.string[:90]!r}"
                              for m, e, z in bad)


@pytest.mark.parametrize("page", PAGES)
def test_page_keeps_roles_math_and_code(page):
    bad = [(m, cat.markup_differences(m)) for m in cat.messages(page)]
    bad = [(m, p) for m, p in bad if p]
    assert not bad, "\n".join(f"line {m.lineno}: {'; '.join(p)}" for m, p in bad)


@pytest.mark.parametrize("page", PAGES)
def test_page_leaves_display_math_as_it_is(page):
    """Both editions show the same equations: a display equation's msgstr is empty or the English."""
    assert not cat.changed_math(page), [m.string[:80] for m in cat.changed_math(page)]


def _article_says_cells():
    """The Chinese of each errata row's second cell ("The article says")."""
    rows = [line for line in (sc.REPO / "book" / "errata.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| §") and not line.startswith("|---")]
    strings = cat.translations("errata")
    return [(cells[1], strings.get(cells[1], "")) for cells in
            ([c.strip() for c in row.strip("|").split("|")] for row in rows)]


@pytest.mark.skipif(not cat.ARTICLE.is_file(), reason="the source article (../shared) is not beside the repository")
def test_errata_quote_the_article_word_for_word():
    """On the Chinese errata page, each "The article says" cell quotes the article's own sentence in
    「…」, and every quote occurs in the article (whitespace ignored)."""
    article = re.sub(r"\s+", "", cat.ARTICLE.read_text(encoding="utf-8"))
    cells = _article_says_cells()
    assert len(cells) >= 15, cells
    for english, chinese in cells:
        quotes = re.findall(r"「([^」]+)」", chinese)
        assert quotes, f"no 「…」 quote of the article for {english[:60]!r}: {chinese!r}"
        for q in quotes:
            assert re.sub(r"\s+", "", q) in article, f"not in the article word for word: 「{q}」"


# ---- the checks on constructed messages ------------------------------------------------------------


def _msg(english, chinese, fuzzy=False):
    return cat.Message("x", english, chinese, fuzzy, 1)


def test_glossary_gives_one_chinese_term_per_english_term():
    terms = dict(cat.glossary_terms())
    assert terms["Mode collapse"] == "模式坍塌"
    assert terms["Generative adversarial network"] == "生成对抗网络"
    assert terms["Latent variable"] == "隐变量"  # "隐变量 / 潜在变量": the first is the book's
    assert terms["Rate"] == "码率" and terms["Learning rate"] == "学习率"


def test_term_check_finds_the_other_term_and_accepts_the_glossarys():
    wrong = _msg("Mode collapse is easy to see.", "模式崩溃很容易看到。")
    right = _msg("Mode collapse is easy to see.", "模式坍塌很容易看到。")
    assert [e for _, e, _ in cat.term_violations([wrong])] == ["Mode collapse"]
    assert cat.term_violations([right]) == []
    # plural and possessive forms match; a longer term hides the shorter one inside it; code does not count
    assert cat.term_violations([_msg("Both generators' losses", "两个网络的损失")])
    assert cat.term_violations([_msg("The learning rate is 1e-3.", "学习率为 1e-3。")]) == []
    assert cat.term_violations([_msg("D rates them as real.", "D 把它们评为真实。")]) == []  # the verb
    assert cat.term_violations([_msg("The rate falls.", "比率下降。")])
    # a translator comment marks a word that is not the term in this message
    lr = cat.Message("x", "one step at that rate", "那个学习率下的一步", False, 1, (" not-a-term: Rate (the learning rate)",))
    assert cat.term_violations([lr]) == []
    assert cat.term_violations([_msg("Call `gan.generator`.", "调用 `gan.generator`。")]) == []
    # an untranslated message is the coverage test's business, not this one's
    assert cat.term_violations([_msg("Mode collapse", "")]) == []


def test_coverage_counts_fuzzy_as_untranslated_and_skips_math_only_messages():
    assert not _msg("A VAE", "一个 VAE", fuzzy=True).translated
    assert _msg("A VAE", "一个 VAE").translated
    assert not cat.needs_translation("$x$, $z$") and not cat.needs_translation("§ 3.1")
    assert not cat.needs_translation("\\nL_G = -\\,\\mathbb E_{z}\\big[\\log D(G(z))\\big],\\n")  # a display equation
    assert not cat.needs_translation("D(x, y) = \\psi(h(x)) + e_y^\\top h(x).")
    assert cat.needs_translation("The ELBO of $x$")


def test_markup_check_finds_lost_math_role_code_and_ref_label():
    english = "See {doc}`03_math` and {ref}`the note <errata-ch2-vae>`: $p(x)$ with `vae.fit`."
    good = "见 {doc}`03_math` 与 {ref}`这条说明 <errata-ch2-vae>`：$p(x)$，用 `vae.fit`。"
    assert cat.markup_differences(_msg(english, good)) == []
    for broken in (good.replace("$p(x)$", "p(x)"), good.replace("{doc}`03_math`", "第 3 章"),
                   good.replace("`vae.fit`", "vae.fit"), good.replace("<errata-ch2-vae>", "<errata-ch2>")):
        assert cat.markup_differences(_msg(english, broken)), broken
