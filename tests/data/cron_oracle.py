#!/usr/bin/env python3
"""Independent brute-force reference for the cron schedule semantics.

Usage:
  cron_oracle.py --check [cron_cases.toml]   verify every [[case]] and [[invalid]]
  cron_oracle.py EXPR TZ AFTER [N]           print the next N ticks (UTC)

The scheduler walks real time (UTC) minute by minute (5-field jobs) or second by
second (6-field jobs), converts each instant to the job's local wall time with
zoneinfo, and decides whether the job fires at that instant:
  * wildcard job (second/minute/hour field starts with '*'): fires whenever the
    wall time matches, so both passes of a repeated hour fire, gap times never;
  * fixed-time job: fires when the wall time matches on its first occurrence
    (fold == 0); additionally, at the first instant after a spring-forward gap
    of at most 3 hours, it fires (once) if any wall time skipped by the gap
    matches.
"""
import re
import sys
import tomllib
from calendar import monthrange
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

FIELDS = [("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23),
          ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7)]
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}
MAX_GAP = timedelta(hours=3)


class CronError(Exception):
    def __init__(self, field, msg):
        super().__init__(f"{field}: {msg}")
        self.field = field


def number(tok, field, lo, hi):
    if re.fullmatch(r"[0-9]+", tok):
        v = int(tok)
    elif field == "month" and tok.upper() in MONTHS and len(tok) == 3:
        v = MONTHS.index(tok.upper()) + 1
    elif field == "day-of-week" and tok.upper() in DAYS and len(tok) == 3:
        v = DAYS.index(tok.upper())
    else:
        raise CronError(field, f"bad value {tok!r}")
    if not lo <= v <= hi:
        raise CronError(field, f"{v} out of range {lo}-{hi}")
    return v


class Field:
    """One parsed field: plain values plus the L/W/# day extensions."""

    def __init__(self, text, name, lo, hi):
        if name in ("day-of-month", "day-of-week") and text == "?":
            text = "*"
        self.star = text.startswith("*")
        self.values = set()
        self.last = self.last_weekday = False   # L, LW (day-of-month)
        self.nearest = []                       # NW (day-of-month)
        self.nth = []                           # (D, N) for D#N (day-of-week)
        self.last_dow = []                      # D for DL (day-of-week)
        for el in text.split(","):
            if el == "":
                raise CronError(name, "empty list element")
            self.element(el, name, lo, hi)

    def element(self, el, name, lo, hi):
        if name == "day-of-month":
            if el == "L":
                self.last = True; return
            if el == "LW":
                self.last_weekday = True; return
            if el.endswith("W"):
                self.nearest.append(number(el[:-1], name, lo, hi)); return
        if name == "day-of-week":
            if "#" in el:
                d, _, n = el.partition("#")
                if not re.fullmatch(r"[1-5]", n):
                    raise CronError(name, f"bad #N in {el!r}")
                self.nth.append((number(d, name, lo, hi) % 7, int(n))); return
            if el.endswith("L") and len(el) > 1:
                self.last_dow.append(number(el[:-1], name, lo, hi) % 7); return
        base, slash, step = el.partition("/")
        if slash:
            if not re.fullmatch(r"[0-9]+", step) or int(step) < 1:
                raise CronError(name, f"bad step in {el!r}")
        step = int(step) if slash else 1
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            a_txt, _, b_txt = base.partition("-")
            a, b = number(a_txt, name, lo, hi), number(b_txt, name, lo, hi)
            if name == "day-of-week" and b == 0 and a > 0:
                b = 7
            if a > b:
                raise CronError(name, f"reversed range {el!r}")
        else:
            a = number(base, name, lo, hi)
            b = hi if slash else a
        for v in range(a, b + 1, step):
            self.values.add(v % 7 if name == "day-of-week" else v)


class Job:
    def __init__(self, expr):
        text = expr.strip(" \t")
        if text.startswith("@"):
            if text not in MACROS:
                raise CronError("expression", f"unknown macro {text!r}")
            text = MACROS[text]
        parts = [p for p in re.split(r"[ \t]+", text) if p != ""]
        if len(parts) == 5:
            parts = ["0"] + parts
            self.six = False
        elif len(parts) == 6:
            self.six = True
        else:
            raise CronError("expression", f"expected 5 or 6 fields, got {len(parts)}")
        f = [Field(p, *spec) for p, spec in zip(parts, FIELDS)]
        self.sec, self.min, self.hour, self.dom, self.mon, self.dow = f
        time_fields = [self.sec, self.min, self.hour] if self.six else [self.min, self.hour]
        self.wildcard = any(x.star for x in time_fields)

    def dom_matches(self, d):
        last = monthrange(d.year, d.month)[1]
        if d.day in self.dom.values or (self.dom.last and d.day == last):
            return True
        if self.dom.last_weekday:
            lw = last - {5: 1, 6: 2}.get(date(d.year, d.month, last).weekday(), 0)
            if d.day == lw:
                return True
        for n in self.dom.nearest:
            if n > last:
                continue                      # e.g. 31W in April: nothing
            wd = date(d.year, d.month, n).weekday()  # Mon=0 .. Sun=6
            if wd == 5:
                target = n - 1 if n > 1 else n + 2
            elif wd == 6:
                target = n + 1 if n < last else n - 2
            else:
                target = n
            if d.day == target:
                return True
        return False

    def dow_matches(self, d):
        cron_wd = (d.weekday() + 1) % 7       # Sun=0 .. Sat=6
        last = monthrange(d.year, d.month)[1]
        if cron_wd in self.dow.values:
            return True
        if any(cron_wd == wd and (d.day - 1) // 7 + 1 == n for wd, n in self.dow.nth):
            return True
        return any(cron_wd == wd and d.day + 7 > last for wd in self.dow.last_dow)

    @lru_cache(maxsize=None)
    def day_matches(self, d):
        a, b = self.dom_matches(d), self.dow_matches(d)
        if self.dom.star or self.dow.star:
            return a and b
        return a or b

    def matches(self, wall):
        return (wall.second in self.sec.values and wall.minute in self.min.values
                and wall.hour in self.hour.values and wall.month in self.mon.values
                and self.day_matches(wall.date()))


def ticks(expr, tzname, after, count):
    job, tz = Job(expr), ZoneInfo(tzname)
    step = timedelta(seconds=1 if job.six else 60)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    t = after.astimezone(timezone.utc)
    t = t - (t - epoch) % step + step          # first step boundary strictly after
    prev_wall = (t - step).astimezone(tz).replace(tzinfo=None)
    out = []
    while len(out) < count:
        local = t.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        fire = job.matches(wall) and (job.wildcard or local.fold == 0)
        skipped = wall - prev_wall - step      # > 0 only when the clock jumped forward
        if not job.wildcard and timedelta(0) < skipped <= MAX_GAP:
            x = prev_wall + step
            while x < wall:                    # every wall time the gap swallowed
                fire = fire or job.matches(x)
                x += step
        if fire:
            out.append(t)
        prev_wall = wall
        t += step
    return out


def fmt(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(path):
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    bad, names = 0, set()
    for c in data.get("case", []):
        problems = []
        if c["name"] in names:
            problems.append("duplicate name")
        names.add(c["name"])
        exp = c["expect"]
        if not 1 <= len(exp) <= 6 or not c.get("why"):
            problems.append("expect must hold 1-6 instants and why must be set")
        if any(not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e) for e in exp):
            problems.append("expect entries must be UTC with Z suffix")
        got = [fmt(t) for t in ticks(c["cron"], c["tz"], datetime.fromisoformat(c["after"]), len(exp))]
        if got != exp:
            problems.append(f"expected {exp}\n      oracle   {got}")
        if problems:
            bad += 1
            print(f"CASE {c['name']!r} ({c['cron']!r}, {c['tz']}, after {c['after']}):")
            for p in problems:
                print("     ", p)
    for c in data.get("invalid", []):
        try:
            Job(c["cron"])
            msg = "parsed successfully"
        except CronError as e:
            msg = None if e.field == c["field"] else f"error names {e.field!r}: {e}"
        if msg:
            bad += 1
            print(f"INVALID {c['cron']!r} (field {c['field']}): {msg}")
    print(f"{len(data.get('case', []))} cases, {len(data.get('invalid', []))} invalid, {bad} mismatches")
    return 1 if bad else 0


def main(argv):
    if argv and argv[0] == "--check":
        return check(argv[1] if len(argv) > 1 else Path(__file__).with_name("cron_cases.toml"))
    if len(argv) in (3, 4):
        after = datetime.fromisoformat(argv[2])
        for t in ticks(argv[0], argv[1], after, int(argv[3]) if len(argv) == 4 else 5):
            print(fmt(t), t.astimezone(ZoneInfo(argv[1])).isoformat())
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
