"""``python -m inbedder.cli``: the same command as ``inbedder``."""

from inbedder.cli.main import main

raise SystemExit(main())
