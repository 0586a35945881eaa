"""The HTML builder escapes by default."""

from __future__ import annotations

from distillguard.report.markup import Markup, el, escape, join


def test_text_is_escaped_and_markup_is_not():
    out = el("p", "<b>x</b> & 'y'", el("em", "ok"))
    assert out == "<p>&lt;b&gt;x&lt;/b&gt; &amp; &#x27;y&#x27;<em>ok</em></p>"
    assert escape(Markup("<i>")) == "<i>"


def test_attributes():
    out = el("a", "t", href='#"x"', class_="c", data_plot="p", hidden=True, title=None)
    assert out == '<a href="#&quot;x&quot;" class="c" data-plot="p" hidden>t</a>'


def test_nested_iterables_numbers_and_none():
    assert join(["a", ["<", 1]], None, 2.5) == "a&lt;12.5"
    assert el("br") == "<br>"
