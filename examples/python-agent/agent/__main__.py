"""python -m agent [--out DIR] < task.json"""

import argparse
import json
import sys
from pathlib import Path

from .ledger import TaskError, run


def main(argv=None):
    p = argparse.ArgumentParser(prog="agent", description="Reconcile invoices from a JSON task on stdin.")
    p.add_argument("--out", default="results", help="directory for the result files (default: results)")
    args = p.parse_args(argv)
    try:
        task = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        print(f"agent: the task on stdin is not JSON: {e}", file=sys.stderr)
        return 2
    try:
        summary = run(task, Path(args.out))
    except TaskError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    for line in summary:
        print(line)
    return 0


sys.exit(main())
