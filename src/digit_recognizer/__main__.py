"""`python -m digit_recognizer` is the `digits` command."""

from .cli import main

raise SystemExit(main())
