"""Access applications: an application is an append-only list of events; its state is a pure fold of them.

Imports only ``schemas`` and ``consent``, never ``catalog`` (the web pages and API live there).
"""
