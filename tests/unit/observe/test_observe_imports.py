"""The observability core stays free of Airflow, like the rest of the core."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_observe_package_does_not_import_airflow() -> None:
    code = (
        "import sys\n"
        "import courtflow.observe, courtflow.observe.history, courtflow.observe.report\n"
        "import courtflow.observe.views, courtflow.observe.svg\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
