"""``python -m server ...`` is the ``fieldsales`` command (for environments without the script on PATH)."""

from server.cli import main

main()
