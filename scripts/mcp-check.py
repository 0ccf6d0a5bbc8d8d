#!/usr/bin/env python3
"""Checks `wabot mcp` with the official Python MCP client (the `mcp` package).

Usage: python3 scripts/mcp-check.py path/to/wabot
Builds a throwaway archive from tests/fixtures, then initializes, lists tools, searches,
reads a chat and makes a bad query. Prints `N passed, N failed`; exits 1 on any failure.
"""

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
except ImportError as err:
    print(f"mcp-check: the Python MCP client is not installed ({err}); "
          'install it with: python3 -m pip install "mcp==2.3.*"', file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

ROOT = Path(__file__).resolve().parent.parent
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def field(obj, *names):
    """A result field under its Python or its wire name."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def structured(result):
    data = field(result, "structured_content", "structuredContent")
    if data is None and result.content:
        data = json.loads(result.content[0].text)
    return data


async def run(binary, workdir):
    server = StdioServerParameters(command=binary, args=["mcp"], cwd=str(workdir))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = field(init, "server_info", "serverInfo")
            check("initialize", info is not None and info.name == "wabot", repr(info))

            tools = [t.name for t in (await session.list_tools()).tools]
            check("tools listed", "search_messages" in tools and "read_chat" in tools, repr(tools))
            check("read-only: no send tool", "send_message" not in tools, repr(tools))

            found = await session.call_tool("search_messages", {"query": "spark"})
            data = structured(found)
            check("search finds the message",
                  not field(found, "is_error", "isError")
                  and data["count"] == 1 and data["hits"][0]["author"] == "other", repr(data))

            page = await session.call_tool("read_chat", {"chat": "Family", "limit": 2})
            data = structured(page)
            texts = [m["text"] for m in data["messages"]]
            check("read a chat", texts == ["Sure", "[image] the menu"], repr(data))

            bad = await session.call_tool("search_messages", {"query": '"unclosed'})
            text = bad.content[0].text if bad.content else ""
            check("bad query is a tool error",
                  field(bad, "is_error", "isError") is True and "malformed" in text, repr(bad))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary = str(Path(sys.argv[1]).resolve())
    workdir = Path(tempfile.mkdtemp(prefix="wabot-mcp-check-"))
    try:
        shutil.copy(ROOT / "tests/fixtures/app.json", workdir / "app.json")
        subprocess.run([binary, "import", "--format", "jsonl",
                        str(ROOT / "tests/fixtures/messages.jsonl")],
                       cwd=workdir, check=True, stdout=subprocess.DEVNULL)
        asyncio.run(asyncio.wait_for(run(binary, workdir), timeout=60))
    except Exception as err:  # any failure to run the check is a failed check
        check("session ran to the end", False, f"{type(err).__name__}: {err}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
