"""The README's benchmark command, kept working: the incident fan-out is now one part of `make bench`.

.venv/bin/python bench/incident_fanout.py [--practices 6300]    # the same as: python -m bench.run [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
