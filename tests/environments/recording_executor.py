"""An executor program that records what its client asks: it runs `rootstep exec-server
--listen stdio` and copies both directions, appending each request's method to $RECORD_FILE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading


def main() -> int:
    child = subprocess.Popen([sys.executable, "-m", "rootstep", "exec-server", "--listen", "stdio"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    record = open(os.environ["RECORD_FILE"], "a", encoding="utf-8")  # noqa: SIM115

    def upstream() -> None:
        for line in sys.stdin.buffer:
            try:
                method = json.loads(line).get("method")
            except ValueError:
                method = None
            if method:
                record.write(method + "\n")
                record.flush()
            child.stdin.write(line)  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]

    threading.Thread(target=upstream, daemon=True).start()
    for line in child.stdout:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
