"""``python -m dotsync.emulator [--port N] …``: the emulator without the full CLI."""

from dotsync.emulator.cli import emulator_command

if __name__ == "__main__":
    emulator_command(prog_name="python -m dotsync.emulator")
