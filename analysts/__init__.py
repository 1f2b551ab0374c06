"""Analyst and operator commands over the log: ``python app.py replay|trip-at|export|verify|migrate``.

Each reads the same ``--store`` / ``STORE_URL`` as the server (``cli.py``).
"""
