"""Widgets of the console: header bar, sidebar, virtual user table, details panel."""
