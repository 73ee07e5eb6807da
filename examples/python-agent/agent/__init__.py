"""A small agent tool: reconciles invoices given as a JSON task on stdin.

Standard library only, as tools written for a sandbox are: json, re,
sqlite3, csv, decimal, datetime, hashlib, pathlib.
"""
