"""A tiny HTML builder that escapes by default.

Everything passed as a child or attribute value is treated as text and escaped, unless it is
already :class:`Markup` (built here, or an SVG produced by :mod:`distillguard.report.plots`).
That makes escaping the default rather than a step a template author has to remember: a
hostile prompt (``<script>…``) becomes inert text wherever it lands.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["Markup", "el", "escape", "join"]


class Markup(str):
    """A string that is already safe HTML and must not be escaped again."""

    __slots__ = ()


_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "wbr"})


def escape(value: object) -> Markup:
    """``value`` as safe HTML: Markup passes through, anything else is escaped text."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _render(child: object) -> str:
    if child is None or child is False:
        return ""
    if isinstance(child, str | int | float):
        return escape(child)
    if isinstance(child, Iterable):
        return "".join(_render(c) for c in child)
    return escape(child)


def join(*children: object) -> Markup:
    """Concatenate children (escaping the plain ones) into one Markup."""
    return Markup("".join(_render(c) for c in children))


def el(tag: str, *children: object, **attrs: object) -> Markup:
    """``<tag attrs>children</tag>``. Attribute names take ``_`` for ``-`` and a trailing ``_``
    for Python keywords (``class_``); False or None drops an attribute, True writes it bare."""
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        parts.append(key if value is True else f'{key}="{escape(value)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{_render(children)}</{tag}>")
