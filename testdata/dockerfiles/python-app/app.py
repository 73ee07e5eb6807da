import json
import os
import sys

from pkg import summarize

rows = [("Green Tea", "3.455", "2026-01-05"), ("Coffee Beans!", "12.10", "2026-01-02"), ("Oat Milk", "2.995", "2026-01-09")]
r = summarize(rows)
print("mode:", os.environ.get("APP_MODE"), "cwd:", os.getcwd())
print("total:", r["total"])
print(r["csv"], end="")
print("digest:", r["digest"])
print("due:", r["due"].isoformat())
print("built:", json.load(open("built.json")))
print("stdin:", sys.stdin.read().strip() or "(empty)")
