"""Screens of the console: main, Manage User menus, confirm, add user, help, provisioning."""
