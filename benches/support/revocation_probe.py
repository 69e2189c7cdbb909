#!/usr/bin/env python3
"""Revocation propagation between two instances of the orders example, for
benches/redis_modes.sh.

For each of COUNT tokens (distinct `jti`, from the first instance's development token
endpoint): the second instance must accept it (GET /orders, 200); the token is revoked
through the first instance (POST /admin/revocations, 204); from the moment that 204 has
been received, the second instance is asked again every POLL seconds (start to start) until
it refuses the token (401). The delay of a revocation is the time from the 204's arrival to
the arrival of the first refusal, so it includes one request's latency and up to one poll
interval.

    revocation_probe.py FIRST_BASE SECOND_BASE COUNT [POLL_SECONDS] [GIVE_UP_SECONDS]

The client of the token endpoint and the admin token come from the environment
(PROBE_CLIENT_ID, PROBE_CLIENT_SECRET, PROBE_ADMIN_TOKEN), not the command line.

Prints one line per revocation to standard error, then to standard output the line
"RESULT count=N refused=N never=N p50_ms=.. p99_ms=.. max_ms=.. unavailable=N" (p99 by
nearest rank: over 50 revocations it is the largest). Exits 1 when a token was not accepted
before its revocation, a revocation was not answered 204, or a revoked token was not
refused within GIVE_UP_SECONDS (default 5).
"""

import base64
import http.client
import json
import math
import os
import sys
import time
import urllib.parse


class Client:
    """One keep-alive HTTP/1.1 connection to a base URL (http://host:port), reopened
    after an error."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def claims(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def fetch_token(first, client_id, secret):
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()
    ).decode()
    status, body = first.request(
        "POST",
        "/dev/oauth/token",
        body="grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    if status != 200:
        sys.exit(f"revocation_probe: the token endpoint answered {status}: {body[:200]!r}")
    return json.loads(body)["access_token"]


def percentile(sorted_values, fraction):
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    first_base, second_base, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    poll = float(sys.argv[4]) if len(sys.argv) > 4 else 0.005
    give_up = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
    client_id = os.environ["PROBE_CLIENT_ID"]
    secret = os.environ["PROBE_CLIENT_SECRET"]
    admin = os.environ["PROBE_ADMIN_TOKEN"]

    first, second = Client(first_base), Client(second_base)
    delays, never, unavailable, failures = [], 0, 0, 0
    for index in range(1, count + 1):
        token = fetch_token(first, client_id, secret)
        jti, exp = claims(token)["jti"], claims(token)["exp"]
        bearer = {"Authorization": f"Bearer {token}"}
        status, body = second.request("GET", "/orders", headers=bearer)
        if status != 200:
            print(f"revocation {index}: the second instance answered {status} before the revocation: {body[:200]!r}", file=sys.stderr)
            failures += 1
            continue
        status, body = first.request(
            "POST",
            "/admin/revocations",
            body=json.dumps({"jti": jti, "exp": exp}),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        )
        answered = time.monotonic()
        if status != 204:
            print(f"revocation {index}: POST /admin/revocations answered {status}: {body[:200]!r}", file=sys.stderr)
            failures += 1
            continue
        polls, seen_503 = 0, 0
        next_poll = answered
        while True:
            status, _ = second.request("GET", "/orders", headers=bearer)
            now = time.monotonic()
            polls += 1
            if status == 401:
                delay = now - answered
                delays.append(delay)
                print(f"revocation {index}: refused after {delay * 1000:.1f} ms ({polls} polls)", file=sys.stderr)
                break
            if status == 503:
                seen_503 += 1
            elif status != 200:
                print(f"revocation {index}: the second instance answered {status} while polling", file=sys.stderr)
            if now - answered > give_up:
                print(f"revocation {index}: still not refused after {give_up:.1f} s ({polls} polls)", file=sys.stderr)
                never += 1
                break
            next_poll += poll
            pause = next_poll - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        unavailable += seen_503

    ordered = sorted(delays)
    ms = lambda value: f"{value * 1000:.1f}"
    print(
        f"RESULT count={count} refused={len(delays)} never={never} failures={failures} "
        f"p50_ms={ms(percentile(ordered, 0.5))} p99_ms={ms(percentile(ordered, 0.99))} "
        f"max_ms={ms(ordered[-1] if ordered else float('nan'))} unavailable={unavailable}"
    )
    sys.exit(1 if never or failures else 0)


if __name__ == "__main__":
    main()
