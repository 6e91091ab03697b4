"""The committed outputs do not depend on the CPU's kernels: strict nbval again, with torch,
MKL, oneDNN and OpenBLAS pushed onto older code paths than this machine would choose.

Other machines pick other paths; what makes every one of them pass is that no printed number
depends on round-off (print the bound a check proves, not the residual), not this choice.
"""

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OLD_KERNELS = {
    "ATEN_CPU_CAPABILITY": "default",  # torch's scalar kernels instead of AVX2/AVX-512
    "OPENBLAS_CORETYPE": "Nehalem",  # numpy/scipy BLAS: SSE4.2-era kernels
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",  # torch's BLAS
    "ONEDNN_MAX_CPU_ISA": "SSE41",  # torch's oneDNN
}


def test_outputs_are_identical_on_old_kernel_paths():
    # One pytest process for all eight (starting one costs 2-3 s); -rf lists every differing cell.
    env = {**os.environ, **OLD_KERNELS}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:xdist",
         *[str(p.relative_to(ROOT)) for p in NOTEBOOKS]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    differing = re.findall(r"^FAILED (.+?)(?: - .*)?$", run.stdout, re.M)
    assert run.returncode == 0, (
        f"{differing or 'the run'} differs under {OLD_KERNELS}:\n"
        + run.stdout[-6000:] + run.stderr[-2000:]
    )
