"""The reconcile action: validate, load into SQLite, total, report."""

import csv
import hashlib
import json
import re
import sqlite3
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

INVOICE_ID = re.compile(r"^INV-\d{4,}$")
EMAIL = re.compile(r"^[\w.+-]+@([\w-]+\.)+[a-z]{2,}$", re.IGNORECASE)
CENT = Decimal("0.01")


class TaskError(Exception):
    """A task the tool cannot run at all (not a bad record)."""


def validate(rec):
    """Returns (row, None) for a good record, (None, reason) otherwise."""
    if not isinstance(rec, dict):
        return None, "not an object"
    rid = str(rec.get("id", ""))
    if not INVOICE_ID.match(rid):
        return None, f"bad id {rid!r}"
    customer = str(rec.get("customer", "")).strip().lower()
    if not EMAIL.match(customer):
        return None, f"{rid}: bad customer e-mail {customer!r}"
    try:
        amount = Decimal(str(rec.get("amount")))
    except InvalidOperation:
        return None, f"{rid}: amount {rec.get('amount')!r} is not a number"
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        return None, f"{rid}: amount {rec.get('amount')!r} is not a positive sum in cents"
    try:
        due = date.fromisoformat(str(rec.get("due")))
    except ValueError:
        return None, f"{rid}: due date {rec.get('due')!r} is not YYYY-MM-DD"
    return (rid, customer, str(amount), due.isoformat(), bool(rec.get("paid", False))), None


def run(task, out):
    """Runs a task; writes its result files under out; returns summary lines."""
    if not isinstance(task, dict) or task.get("action") != "reconcile":
        raise TaskError(f"unknown action {task.get('action') if isinstance(task, dict) else task!r}; know: reconcile")
    try:
        as_of = date.fromisoformat(task.get("as_of") or date.today().isoformat())
    except ValueError:
        raise TaskError(f"as_of {task.get('as_of')!r} is not YYYY-MM-DD") from None
    grace = timedelta(days=int(task.get("grace_days", 0)))
    currency = task.get("currency", "EUR")

    db = sqlite3.connect(":memory:")
    db.execute("create table invoice (id text primary key, customer text, amount text, due text, paid integer)")
    rejected = []
    for rec in task.get("records", []):
        row, why = validate(rec)
        if why is None:
            try:
                db.execute("insert into invoice values (?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                why = f"{row[0]}: duplicate id"
        if why is not None:
            rejected.append(why)

    rows = []
    open_total = Decimal(0)
    query = "select customer, count(*), group_concat(id, ' ') from invoice where paid = 0 group by customer order by customer"
    for customer, count, ids in db.execute(query):
        owed = sum((Decimal(a) for (a,) in db.execute("select amount from invoice where customer = ? and paid = 0", (customer,))), Decimal(0))
        oldest = min(date.fromisoformat(d) for (d,) in db.execute("select due from invoice where customer = ? and paid = 0", (customer,)))
        late = max((as_of - grace - oldest).days, 0)
        rows.append([customer, count, f"{owed.quantize(CENT, ROUND_HALF_EVEN)}", oldest.isoformat(), late, " ".join(sorted(ids.split()))])
        open_total += owed
    (paid_count,) = db.execute("select count(*) from invoice where paid = 1").fetchone()

    out.mkdir(parents=True, exist_ok=True)
    body = "\n".join(",".join(map(str, r)) for r in rows).encode()
    digest = hashlib.sha256(body).hexdigest()
    report = out / f"reconcile-{as_of.isoformat()}-{digest[:8]}.csv"
    with report.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer", "open_invoices", f"owed_{currency.lower()}", "oldest_due", "days_late", "ids"])
        w.writerows(rows)
    meta = out / "last-run.json"
    meta.write_text(json.dumps({
        "report": report.name,
        "sha256": hashlib.sha256(report.read_bytes()).hexdigest(),
        "as_of": as_of.isoformat(),
        "open_total": str(open_total),
        "rejected": rejected,
    }, indent=2, sort_keys=True) + "\n")

    summary = [
        f"reconciled {len(rows)} customers as of {as_of.isoformat()}; paid invoices skipped: {paid_count}",
        f"open total: {open_total.quantize(CENT)} {currency}",
    ]
    summary += [f"  {r[0]}: {r[2]} {currency}, {r[1]} open, {r[4]} days late" for r in rows]
    summary += [f"rejected: {why}" for why in rejected]
    summary.append(f"wrote {report.as_posix()} sha256:{hashlib.sha256(report.read_bytes()).hexdigest()[:16]}")
    return summary
