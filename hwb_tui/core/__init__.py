"""The UI-free core: store, rules, permissions. Never imports Textual."""
