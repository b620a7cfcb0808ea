"""``make bench``: every benchmark, one after the other, each printing its own table.

Each benchmark compares its contenders side by side within one run (the machine is
noisy: ratios, not absolute timings, are the result).
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "benchmarks.budget_bench",
    "benchmarks.budget_classes_bench",
    "benchmarks.upsert_bench",
    "benchmarks.bootstrap_bench",
    "benchmarks.dag_import_bench",
    "benchmarks.eval_limiters",
    "benchmarks.usage_bench",
    "benchmarks.cli_start_bench",
)


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"\n=== {module} ===", flush=True)
        if subprocess.call([sys.executable, "-m", module]) != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
