#!/usr/bin/env python3
"""The load and the checks of the multi-instance soak (.ci/soak-redis, which starts Redis
and the instances, restarts Redis and samples memory; run that, not this).

    soak_driver.py --bases URL,URL,... --seconds 60 --events FILE [--workers 4] [--rate 300]
                   [--revoke-every 1.0] [--grace 7] [--revoked-grace 1.0]

The first base serves the development issuer (its /dev/oauth/token endpoint gives the
tokens); every instance trusts it. The clients' secrets come from the environment as JSON
(SOAK_SECRETS, {"client id": "secret", ...}) and the token that revokes from SOAK_ADMIN_TOKEN,
never from the command line.

Load, for --seconds, from --workers threads sending --rate requests a second in all, each
request to a random instance:
- GET /orders/{id} (an id this run created, or a small one), GET /orders, POST /orders with a
  valid body, GET /health, with a token of the pool: tokens of the clients orders-reader,
  orders-writer and orders-admin, a fresh one fetched every 0.5 s, the newest 12 in use;
- deliberately wrong: no token, a malformed token, a token whose signature was altered
  (each must be 401), a reader's token on POST /orders (403), a path no route serves (404);
- revoked tokens still in use: about one authenticated request in six carries one of the
  last ten tokens revoked.
Every --revoke-every seconds one token of the pool is revoked (POST /admin/revocations) at a
random instance. Requests come from several loopback addresses, as from several machines:
each token's from an address of its own, the deliberately wrong ones from 16 others, the
rest from 127.0.0.1; so the instances' throttling of failed authentications (per address)
refuses the wrong-doers, not everyone. Connections are kept alive; as HTTP clients do, a
request whose reused connection turns out to be closed before any answer is sent again once
on a fresh one (counted in the summary).

Checks, once the load has ended:
- every answer is 2xx, 401, 403, 404 or 429; a 503 only when the request was in flight
  between Redis' stop and --grace seconds after it answered again (times from --events,
  lines "stop <unix time>" and "up <unix time>" written by the soak script, to which this
  driver adds "start <unix time>" when the load starts); no answer at all (a connection
  error, a timeout) is a failure;
- a request without a valid token, or with too few scopes, is never answered 2xx;
- a revoked token is never answered 2xx for a request sent more than --revoked-grace seconds
  after its revocation's 204 was received, at any instance.

Prints a summary (answers by status and by instance, revocations, the latest acceptance of a
revoked token after its revocation, the failures) and exits 1 on any failure.
"""

import argparse
import base64
import collections
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

ALLOWED = {401, 403, 404, 429}
TOKENS_IN_USE = 12
FETCH_EVERY = 0.5
REVOKED_IN_USE = 10
CLIENTS = ("orders-reader", "orders-writer", "orders-admin")
WRITERS = ("orders-writer", "orders-admin")
# Where requests come from (all loopback addresses reach the instances on 127.0.0.1): the
# token endpoint, revocations and unauthenticated health checks from one address; each
# token's requests from an address of its own; deliberately bad requests from a few others,
# whose authentication failures the instances throttle (429) without touching the rest.
GOOD_SOURCE = "127.0.0.1"
ATTACKERS = tuple(f"127.0.200.{n}" for n in range(1, 17))


class Connection:
    """One keep-alive connection to an instance from a given loopback source address,
    reopened after an error."""

    def __init__(self, base, source):
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.source = url.hostname, url.port, source
        self.connection = None
        self.used = False  # whether the open connection has carried a request already
        self.last = None  # the last request answered on it, and its answer
        self.closed_after = None  # what the connection answered last before closing unannounced

    def request(self, method, path, body=None, headers=None):
        """(status, body, retried); status 0 when no answer came (the error in the body).

        As HTTP clients do, a request whose reused keep-alive connection turns out to be
        closed before any answer arrived is sent again once on a fresh connection
        (retried=True); on a fresh connection, an error is final."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=5, source_address=(self.source, 0))
                self.used = False
            reused = self.used
            self.used = True
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                answer = response.read()
                self.last = f"{method} {path} {response.status}"
                return response.status, answer, attempt == 2
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.closed_after = self.last
                self.close()
                if not reused or attempt == 2:
                    return 0, repr(error).encode(), attempt == 2
            except (http.client.HTTPException, OSError) as error:
                self.close()
                return 0, repr(error).encode(), attempt == 2
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
        self.connection = None


class Connections:
    """A thread's connections: one per (instance, source address)."""

    def __init__(self, bases):
        self.bases = bases
        self.open = {}

    def get(self, instance, source):
        key = (instance, source)
        if key not in self.open:
            self.open[key] = Connection(self.bases[instance], source)
        return self.open[key]

    def keep_only(self, sources):
        for key in [key for key in self.open if key[1] not in sources]:
            self.open.pop(key).close()


class Token:
    def __init__(self, client, token, source):
        self.client = client
        self.token = token
        self.source = source  # the loopback address its requests come from
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        self.jti = claims["jti"]
        self.exp = claims["exp"]
        self.revoked_at = None  # when the 204 of its revocation was received (Unix time)


class Record:
    __slots__ = ("sent", "received", "instance", "kind", "token", "status", "detail", "retried")

    def __init__(self, sent, received, instance, kind, token, status, detail, retried):
        self.sent, self.received, self.instance = sent, received, instance
        self.kind, self.token, self.status, self.detail = kind, token, status, detail
        self.retried = retried


class Soak:
    def __init__(self, args):
        self.args = args
        self.bases = args.bases.split(",")
        self.secrets = json.loads(os.environ["SOAK_SECRETS"])
        self.admin = os.environ["SOAK_ADMIN_TOKEN"]
        self.lock = threading.Lock()
        self.pool = []  # tokens in use, newest last
        self.revoked = []  # revoked tokens, in order of revocation
        self.created = []  # (instance, id) of orders this run created
        self.records = []
        self.fetched = 0
        self.stop_at = None
        self.fatal = []

    # -- requests -------------------------------------------------------------------------

    def send(self, connections, instance, kind, method, path, token=None, body=None,
             authorization=None, source=None, form=None):
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token.token}"
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = form
        elif body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        if source is None:
            source = token.source if token is not None else GOOD_SOURCE
        sent = time.time()
        connection = connections.get(instance, source)
        status, answer, retried = connection.request(method, path, body=body, headers=headers)
        received = time.time()
        unexpected = status == 0 or status >= 500 or status in (400, 422)
        detail = answer[:160].decode("utf-8", "replace") if unexpected else ""
        if retried:
            detail = f"its connection closed after answering {connection.closed_after}"
        with self.lock:
            self.records.append(Record(sent, received, instance, kind, token, status, detail, retried))
        return status, answer

    def fetch_token(self, connections, client):
        """A fresh token of `client` from the first instance's token endpoint, with a
        source address of its own."""
        credentials = f"{urllib.parse.quote(client, safe='')}:{urllib.parse.quote(self.secrets[client], safe='')}"
        basic = base64.b64encode(credentials.encode()).decode()
        status, answer = self.send(
            connections, 0, "token endpoint", "POST", "/dev/oauth/token",
            authorization=f"Basic {basic}", form="grant_type=client_credentials", source=GOOD_SOURCE,
        )
        if status != 200:
            return None
        with self.lock:
            n = self.fetched
            self.fetched += 1
        # 127.0.1.1, 127.0.1.2, ...: each token's requests come from an address of their
        # own, as from a machine of their own, so that the failures a revoked token earns
        # are throttled on its address alone.
        source = f"127.0.{1 + n // 250}.{1 + n % 250}"
        return Token(client, json.loads(answer)["access_token"], source)

    def sources_in_use(self):
        with self.lock:
            sources = {t.source for t in self.pool}
            sources |= {t.source for t in self.revoked[-REVOKED_IN_USE:]}
        return sources | set(ATTACKERS) | {GOOD_SOURCE}

    # -- threads --------------------------------------------------------------------------

    def fetcher(self):
        """A fresh token every FETCH_EVERY seconds, clients in turn; the newest in use."""
        connections = Connections(self.bases)
        turn = 0
        while time.time() < self.stop_at:
            token = self.fetch_token(connections, CLIENTS[turn % len(CLIENTS)])
            turn += 1
            if token is not None:
                with self.lock:
                    self.pool.append(token)
                    # Keep at least one token of each client in use.
                    while len(self.pool) > TOKENS_IN_USE:
                        oldest = self.pool[0]
                        if sum(1 for t in self.pool if t.client == oldest.client) > 1:
                            self.pool.pop(0)
                        else:
                            self.pool.append(self.pool.pop(0))
                            break
            time.sleep(FETCH_EVERY)

    def revoker(self):
        """Revokes a token of the pool every --revoke-every seconds, at a random instance."""
        connections = Connections(self.bases)
        rng = random.Random()
        next_at = time.time() + self.args.revoke_every
        while True:
            pause = next_at - time.time()
            if pause > 0:
                time.sleep(pause)
            next_at += self.args.revoke_every
            if time.time() >= self.stop_at - 1:
                return
            with self.lock:
                # Never the last token of a client: every kind of request keeps a token.
                candidates = [t for t in self.pool if sum(1 for u in self.pool if u.client == t.client) > 1]
                if not candidates:
                    continue
                token = rng.choice(candidates)
            instance = rng.randrange(len(self.bases))
            status, _ = self.send(
                connections, instance, "revocation", "POST", "/admin/revocations",
                body={"jti": token.jti, "exp": token.exp}, authorization=f"Bearer {self.admin}",
                source=GOOD_SOURCE,
            )
            if status == 204:
                answered = time.time()
                with self.lock:
                    token.revoked_at = answered
                    self.revoked.append(token)
                    if token in self.pool:
                        self.pool.remove(token)

    def worker(self, seed):
        connections = Connections(self.bases)
        rng = random.Random(seed)
        interval = self.args.workers / self.args.rate
        next_at = time.time() + rng.random() * interval
        next_prune = time.time() + 2
        while True:
            pause = next_at - time.time()
            if pause > 0:
                time.sleep(pause)
            next_at += interval
            now = time.time()
            if now >= self.stop_at:
                connections.keep_only(set())
                return
            if now >= next_prune:
                connections.keep_only(self.sources_in_use())
                next_prune = now + 2
            instance = rng.randrange(len(self.bases))
            self.one_request(connections, instance, rng)

    def pick(self, rng, clients):
        """A token of one of `clients`: one of the last revoked about one time in six,
        else one of the pool."""
        with self.lock:
            revoked = [t for t in self.revoked[-REVOKED_IN_USE:] if t.client in clients]
            if revoked and rng.random() < 1 / 6:
                return rng.choice(revoked)
            tokens = [t for t in self.pool if t.client in clients]
            return rng.choice(tokens) if tokens else None

    def one_request(self, connections, instance, rng):
        roll = rng.random()
        attacker = rng.choice(ATTACKERS)
        if roll < 0.35:
            token = self.pick(rng, CLIENTS)
            with self.lock:
                mine = [order for (where, order) in self.created if where == instance]
            order = rng.choice(mine) if mine and rng.random() < 0.8 else rng.randint(1, 5)
            self.send(connections, instance, "GET /orders/{id}", "GET", f"/orders/{order}", token=token)
        elif roll < 0.55:
            token = self.pick(rng, CLIENTS)
            self.send(connections, instance, "GET /orders", "GET", "/orders", token=token)
        elif roll < 0.65:
            token = self.pick(rng, WRITERS)
            body = {"item": rng.choice(["tea", "cake", "scones", "jam"]), "quantity": rng.randint(1, 5)}
            if rng.random() < 0.3:
                body["delivery_address"] = f"{rng.randint(1, 99)} Main St"
            status, answer = self.send(connections, instance, "POST /orders", "POST", "/orders", token=token, body=body)
            if status == 201:
                with self.lock:
                    self.created.append((instance, json.loads(answer)["id"]))
        elif roll < 0.70:
            self.send(connections, instance, "GET /health", "GET", "/health", source=GOOD_SOURCE)
        elif roll < 0.76:
            self.send(connections, instance, "no token", "GET", "/orders", source=attacker)
        elif roll < 0.82:
            self.send(connections, instance, "malformed token", "GET", "/orders",
                      authorization="Bearer not.a.token", source=attacker)
        elif roll < 0.88:
            token = self.pick(rng, CLIENTS)
            if token is not None:
                head, payload, signature = token.token.split(".")
                flipped = "B" if signature[10] == "A" else "A"
                altered = f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"
                self.send(connections, instance, "altered signature", "GET", "/orders",
                          authorization=f"Bearer {altered}", source=attacker)
        elif roll < 0.94:
            token = self.pick(rng, ("orders-reader",))
            self.send(connections, instance, "reader's POST /orders", "POST", "/orders", token=token,
                      body={"item": "tea", "quantity": 1})
        else:
            token = self.pick(rng, CLIENTS)
            self.send(connections, instance, "unknown path", "GET", "/no-such-path", token=token)

    # -- the run --------------------------------------------------------------------------

    def thread(self, target, *args):
        """A thread whose uncaught exception fails the soak (rather than quietly lowering
        the load)."""

        def run():
            try:
                target(*args)
            except Exception as error:  # noqa: BLE001 - reported, then the soak fails
                with self.lock:
                    self.fatal.append(f"a load thread ({target.__name__}) stopped: {error!r}")
                raise

        return threading.Thread(target=run, daemon=True)

    def run(self):
        connections = Connections(self.bases)
        # A few tokens of each client before the load starts.
        for _ in range(2):
            for client in CLIENTS:
                token = self.fetch_token(connections, client)
                if token is None:
                    sys.exit(f"soak_driver: no token for {client} from {self.bases[0]}/dev/oauth/token")
                self.pool.append(token)
        connections.keep_only(set())
        started = time.time()
        self.stop_at = started + self.args.seconds
        # The soak script's clock for its stop and restart of Redis and its memory samples.
        with open(self.args.events, "a") as events:
            events.write(f"start {started:.6f}\n")
        threads = [self.thread(self.fetcher), self.thread(self.revoker)]
        threads += [self.thread(self.worker, seed) for seed in range(self.args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, self.stop_at + 15 - time.time()))
        if any(thread.is_alive() for thread in threads):
            self.fatal.append("a load thread did not finish within 15 s of the end (a request hung)")
        return started

    def check(self, started):
        stops, ups = [], []
        try:
            with open(self.args.events) as events:
                for line in events:
                    kind, _, at = line.strip().partition(" ")
                    (stops if kind == "stop" else ups if kind == "up" else []).append(float(at))
        except FileNotFoundError:
            pass
        windows = []  # (from, to): while Redis was away, plus the grace after it answered again
        for stop in stops:
            up = min((u for u in ups if u >= stop), default=None)
            if up is None:
                self.fatal.append(f"Redis was stopped at {stop - started:.1f} s and never answered again")
                up = float("inf")
            windows.append((stop, up + self.args.grace))

        def in_window(record):
            return any(record.received >= start and record.sent <= end for start, end in windows)

        failures = collections.Counter()
        examples = {}

        def fail(reason, record):
            failures[reason] += 1
            if reason not in examples:
                examples[reason] = (
                    f"{record.kind} at instance {record.instance + 1}, sent at {record.sent - started:.2f} s, "
                    f"answered {record.status or 'nothing'} at {record.received - started:.2f} s"
                    + (f": {record.detail}" if record.detail else "")
                )

        by_status = collections.Counter()
        by_instance = collections.defaultdict(collections.Counter)
        unavailable_outside = 0
        latest_after_revocation = 0.0
        for record in self.records:
            status = record.status
            by_status[status] += 1
            by_instance[record.instance][status] += 1
            ok = 200 <= status < 300
            if status == 503:
                if not in_window(record):
                    unavailable_outside += 1
                    fail("503 outside the Redis outage and its grace", record)
            elif not ok and status not in ALLOWED:
                fail(f"status {status or 'none (connection error or timeout)'}", record)
            if ok and record.kind in ("no token", "malformed token", "altered signature"):
                fail(f"{record.kind} answered {status}", record)
            if ok and record.kind == "reader's POST /orders":
                fail("a reader's token created an order", record)
            token = record.token
            if ok and token is not None and token.revoked_at is not None and record.sent > token.revoked_at:
                late = record.sent - token.revoked_at
                latest_after_revocation = max(latest_after_revocation, late)
                if late > self.args.revoked_grace:
                    fail(f"a revoked token accepted more than {self.args.revoked_grace:g} s after its revocation", record)

        total = len(self.records)
        seconds = self.args.seconds
        print(f"soak: {total} requests in {seconds:g} s to {len(self.bases)} instances ({total / seconds:.0f}/s)")
        print("  answers by status: " + ", ".join(f"{s or 'none'}: {n}" for s, n in sorted(by_status.items())))
        for instance in sorted(by_instance):
            counts = by_instance[instance]
            print(f"  instance {instance + 1} ({self.bases[instance]}): " + ", ".join(f"{s or 'none'}: {n}" for s, n in sorted(counts.items())))
        kinds = collections.Counter(record.kind for record in self.records)
        print("  requests by kind: " + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())))
        attempts = [r for r in self.records if r.kind == "revocation"]
        print(f"  revocations: {len(self.revoked)} answered 204 of {len(attempts)} made "
              f"({', '.join(f'{s}: {n}' for s, n in sorted(collections.Counter(r.status for r in attempts).items()))})")
        revoked_requests = [r for r in self.records if r.token is not None and r.token.revoked_at is not None and r.sent > r.token.revoked_at]
        print(f"  requests with a token after its revocation: {len(revoked_requests)} "
              f"({', '.join(f'{s}: {n}' for s, n in sorted(collections.Counter(r.status for r in revoked_requests).items()))})")
        print(f"  latest acceptance of a revoked token after its revocation's 204: {latest_after_revocation * 1000:.0f} ms "
              f"(allowed: {self.args.revoked_grace * 1000:.0f} ms)")
        for start, end in windows:
            in_outage = [r for r in self.records if r.status == 503 and r.received >= start and r.sent <= end]
            last = max((r.received for r in in_outage), default=None)
            after = f", the last {last - (end - self.args.grace):+.1f} s from Redis answering again" if last else ""
            print(f"  Redis away from {start - started:.1f} s, 503 allowed until {end - started:.1f} s "
                  f"(answered again + {self.args.grace:g} s): {len(in_outage)} answers 503 then{after}")
        if not windows:
            print("  Redis was not stopped")
        if unavailable_outside:
            print(f"  503 outside that window: {unavailable_outside}")
        retried = [r for r in self.records if r.retried]
        if retried:
            print(f"  requests sent again because their keep-alive connection had been closed without notice: {len(retried)}; "
                  "the last answers on those connections: "
                  + ", ".join(f"{k}: {n}" for k, n in collections.Counter(r.detail.rpartition('answering ')[2] for r in retried).most_common()))
        for reason in self.fatal:
            print(f"FAILURE: {reason}")
        for reason, count in sorted(failures.items()):
            print(f"FAILURE: {reason}: {count}, e.g. {examples[reason]}")
        return not failures and not self.fatal


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--events", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--revoke-every", type=float, default=1.0)
    parser.add_argument("--grace", type=float, default=7.0)
    parser.add_argument("--revoked-grace", type=float, default=1.0)
    args = parser.parse_args()
    soak = Soak(args)
    started = soak.run()
    sys.exit(0 if soak.check(started) else 1)


if __name__ == "__main__":
    main()
