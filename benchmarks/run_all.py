"""Run every benchmark (make bench): validation accuracy, then speed and memory. Results in benchmarks/out/."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("validation.py", "convergence.py", "performance.py"):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], check=True)
