import csv, io, re, hashlib, sqlite3
from decimal import Decimal, ROUND_HALF_UP
from datetime import date, timedelta


def summarize(rows):
    db = sqlite3.connect(":memory:")
    db.execute("create table sale (item text, price text, day text)")
    db.executemany("insert into sale values (?, ?, ?)", rows)
    total = sum(Decimal(p) for (p,) in db.execute("select price from sale"))
    items = [i for (i,) in db.execute("select item from sale order by item")]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["item", "slug"])
    for i in items:
        w.writerow([i, re.sub(r"[^a-z0-9]+", "-", i.lower()).strip("-")])
    first = min(date.fromisoformat(d) for (d,) in db.execute("select day from sale"))
    return {
        "total": total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "csv": out.getvalue(),
        "digest": hashlib.sha256(",".join(items).encode()).hexdigest()[:16],
        "due": first + timedelta(days=30),
    }
