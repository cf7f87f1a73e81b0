"""`python -m qtqueue`: the same as the `qtqueue` command."""

from __future__ import annotations

from qtqueue.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
