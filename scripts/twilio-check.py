#!/usr/bin/env python3
"""Checks `wabot listen` on the Twilio transport against Twilio's own Python library.

Usage: python3 scripts/twilio-check.py path/to/wabot
Starts the listener in a throwaway directory on a free loopback port, signs webhooks
with `twilio.request_validator.RequestValidator` (the signature Twilio's servers send),
and checks that wabot accepts them (stored once) and refuses a forged one. Prints
`N passed, N failed`; exits 1 on any failure.
"""

import json
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


def main():
    wabot = Path(sys.argv[1]).resolve()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "transport": "twilio",
            "webhook": {"listen": f"127.0.0.1:{port}", "public_url": PUBLIC},
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
        try:
            deadline = time.time() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or listener.poll() is not None:
                        print("twilio-check: the listener did not start", file=sys.stderr)
                        print("0 passed, 1 failed")
                        return 1
                    time.sleep(0.05)
            params = {
                "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32,
                "From": "whatsapp:+15550001111", "To": "whatsapp:+14155238886",
                "Body": "Grüße & hello + welcome?", "NumMedia": "0", "ProfileName": "Alice",
                "WaId": "15550001111",
            }
            signature = RequestValidator(TOKEN).compute_signature(PUBLIC, params)
            check("signed by Twilio's library: 200", post(port, params, signature) == 200)
            check("redelivery: 200", post(port, params, signature) == 200)
            forged = RequestValidator("another-token").compute_signature(PUBLIC, params)
            check("signed with another token: 403", post(port, params, forged) == 403)
            check("unsigned: 403", post(port, params, None) == 403)
            db = sqlite3.connect(Path(tmp, "store", "wabot.db"))
            stored = db.execute("SELECT count(*), max(content) FROM messages").fetchone()
            check("stored once, text intact", stored == (1, params["Body"]), str(stored))
        finally:
            listener.terminate()
            listener.wait(timeout=30)
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
