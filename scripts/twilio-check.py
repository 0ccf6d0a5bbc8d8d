#!/usr/bin/env python3
"""Checks `wabot listen` on the Twilio transport against real third-party clients.

Usage: python3 scripts/twilio-check.py path/to/wabot
Starts the listener in a throwaway directory on a free loopback port, signs webhooks
with `twilio.request_validator.RequestValidator` (the signature Twilio's servers send),
and checks that wabot accepts them (stored once), with the port in the signed URL or in
`public_url`, and with a parameter sent twice, and refuses a forged one. Then, beside the
running listener, Debian's `sqlite3` reads the database and Python's `sqlite3` writes it
after every acknowledged webhook: each must be visible to them, and after `kill -9` every
one must be in an intact file. (Their SQLite deletes a WAL that no other process holds a
lock on, which a listener closing its own descriptor of the file would let happen.)
Prints `N passed, N failed`; exits 1 on any failure.
"""

import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

try:
    from twilio.request_validator import RequestValidator
except ImportError as err:
    print(f"twilio-check: Twilio's Python library is not installed ({err}); "
          'install it with: python3 -m pip install "twilio==9.*"', file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

TOKEN = "twilio-check-auth-token"
PUBLIC = "https://bot.example.com/hooks/whatsapp?tenant=check"
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name} {'' if condition else detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, params, signature):
    """Posts `params` (a dict, or pairs to repeat a name) to the webhook path."""
    url = f"http://127.0.0.1:{port}" + PUBLIC.split("example.com", 1)[1]
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    if signature is not None:
        request.add_header("X-Twilio-Signature", signature)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def start(wabot, tmp, public):
    """The listener on a free port with `public` as its public URL, once it takes requests."""
    port = free_port()
    config = {
        "transport": "twilio",
        "webhook": {"listen": f"127.0.0.1:{port}", "public_url": public},
        "twilio": {"account_sid": "AC" + "0" * 32, "from": "whatsapp:+14155238886",
                   "base_url": "http://127.0.0.1:9"},
        "monitored_entities": [{"type": "user", "phone": "15550001111", "name": "Alice"}],
        # Only the webhook side is checked here: no answering run is started.
        "polling": {"on_arrival": False},
    }
    Path(tmp, "app.json").write_text(json.dumps(config))
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    listener = subprocess.Popen([str(wabot), "listen"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return listener, port
        except OSError:
            if time.time() > deadline or listener.poll() is not None:
                listener.kill()
                raise RuntimeError("the listener did not start")
            time.sleep(0.05)


def message(n, body):
    return {
        "MessageSid": f"SM{n:032d}", "AccountSid": "AC" + "0" * 32,
        "From": "whatsapp:+15550001111", "To": "whatsapp:+14155238886",
        "Body": body, "NumMedia": "0", "ProfileName": "Alice", "WaId": "15550001111",
    }


def signatures(wabot, tmp):
    validator = RequestValidator(TOKEN)
    listener, port = start(wabot, tmp, PUBLIC)
    try:
        params = message(1, "Grüße & hello + welcome?")
        signature = validator.compute_signature(PUBLIC, params)
        check("signed by Twilio's library: 200", post(port, params, signature) == 200)
        check("redelivery: 200", post(port, params, signature) == 200)
        forged = RequestValidator("another-token").compute_signature(PUBLIC, params)
        check("signed with another token: 403", post(port, params, forged) == 403)
        check("unsigned: 403", post(port, params, None) == 403)
        with_port = PUBLIC.replace("example.com/", "example.com:443/")
        ported = message(2, "signed with the port")
        check("signed over the URL with :443: 200",
              post(port, ported, validator.compute_signature(with_port, ported)) == 200)
        twice = message(3, "a parameter twice")
        signed_once = validator.compute_signature(PUBLIC, twice)
        doubled = list(twice.items()) + [("Body", twice["Body"])]
        check("a parameter sent twice, signed once: 200", post(port, doubled, signed_once) == 200)
        db = sqlite3.connect(Path(tmp, "store", "wabot.db"))
        stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        first = db.execute("SELECT content FROM messages WHERE id = ?",
                           (params["MessageSid"],)).fetchone()
        db.close()
        check("stored once each, text intact", (stored, first) == (3, (params["Body"],)),
              str((stored, first)))
    finally:
        listener.terminate()
        listener.wait(timeout=30)
    # `public_url` written with the port, Twilio signing without it.
    listener, port = start(wabot, tmp, with_port)
    try:
        plain = message(4, "public_url with :443")
        check("public_url with :443, signed without it: 200",
              post(port, plain, validator.compute_signature(PUBLIC, plain)) == 200)
    finally:
        listener.terminate()
        listener.wait(timeout=30)


def shared_database(wabot, tmp):
    cli = shutil.which("sqlite3")
    if cli is None:
        check("Debian's sqlite3 is installed", False, "(apt-get install sqlite3)")
        return
    database = str(Path(tmp, "store", "wabot.db"))
    validator = RequestValidator(TOKEN)
    listener, port = start(wabot, tmp, PUBLIC)
    before = int(subprocess.run([cli, database, "SELECT count(*) FROM messages"],
                                capture_output=True, text=True, check=True).stdout)
    seen = []
    try:
        for n in range(100, 108):
            params = message(n, f"beside a reader, number {n}")
            if post(port, params, validator.compute_signature(PUBLIC, params)) != 200:
                seen.append("refused")
                continue
            count = subprocess.run([cli, database, "SELECT count(*) FROM messages"],
                                   capture_output=True, text=True, check=True).stdout
            seen.append(int(count) - before)
            writer = sqlite3.connect(database)
            writer.execute("CREATE TABLE IF NOT EXISTS backup_notes (n)")
            writer.execute("INSERT INTO backup_notes VALUES (?)", (n,))
            writer.commit()
            writer.close()
    finally:
        listener.send_signal(signal.SIGKILL)
        listener.wait(timeout=30)
    check("sqlite3 sees every acknowledged webhook at once", seen == list(range(1, 9)),
          str(seen))
    verdict = subprocess.run([cli, database, "PRAGMA integrity_check"],
                             capture_output=True, text=True).stdout.strip()
    check("intact after kill -9", verdict == "ok", verdict)
    after = subprocess.run([cli, database, "SELECT count(*) FROM messages; "
                            "SELECT count(*) FROM backup_notes"],
                           capture_output=True, text=True).stdout.split()
    check("every acknowledged webhook and every note survived kill -9",
          after == [str(before + 8), "8"], str(after))


def main():
    wabot = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            signatures(wabot, tmp)
            shared_database(wabot, tmp)
        except RuntimeError as err:
            check("the listener runs", False, str(err))
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
