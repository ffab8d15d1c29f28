"""``python -m app.emulator``: the ``scriptcron emulator`` command without loading the other CLI areas
(quicker to start; used by the test fixture)."""

from __future__ import annotations

import typer

from app.cli.emulator import emulator


def main() -> None:
    typer.run(emulator)


if __name__ == "__main__":
    main()
