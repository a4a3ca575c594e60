"""Key bindings in the operator's language: each Binding's description is a catalogue key."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding
from textual.dom import DOMNode

from hwb_tui.i18n import t

# The catalogue key of every binding, by binding id, kept when descriptions are translated.
_KEYS: dict[str, str] = {}


def localise_bindings(node: DOMNode, lang: str) -> None:
    """Rewrite the descriptions of `node`'s bindings in `lang` (footer and help read them)."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        out: list[Binding] = []
        for binding in items:
            ident = binding.id or f"{type(node).__name__}.{binding.action}"
            source = _KEYS.setdefault(ident, binding.description)
            if source.startswith("key."):
                binding = replace(binding, description=t(source, lang))
            out.append(binding)
        bindings[key] = out
