"""Why beams and batched sentences are not free on this CPU: one NLLB-600M layer's matmul, by rows per call.

    python bench/matmul_roofs.py            # NLLB-600M's shapes, rows 1..240; ~1 minute on 2 vCPUs
    python bench/matmul_roofs.py --quick    # small shapes, for the smoke test

Decoding multiplies each weight matrix by a few rows at a time: one row per sentence per beam. If reading the weights
from memory were the only cost, 4 rows (beam 4) would cost what 1 row costs. This prints, for the int8 kernel the app
serves with (``nllb_space.model.quantization.Int8Linear``) and for float32, the time per call, the weight bytes read per
second and the multiply-adds per second, so the point where a CPU stops being memory-bound and becomes compute-bound
(the extra rows start to cost) can be read off for any machine, a Space's included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"600m": ((1024, 1024), (4096, 1024), (256_206, 1024)), "quick": ((64, 64), (256, 64))}
"""(out, in) of NLLB-600M's attention projection, feed-forward and output matrices."""
ROWS = {"600m": (1, 2, 4, 8, 30, 240), "quick": (1, 4)}


def _ms_per_call(run, min_seconds: float) -> float:
    run()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or calls < 3:
        run()
        calls += 1
    return elapsed / calls * 1e3


def measure(shapes, rows, min_seconds: float) -> list[dict]:
    import torch
    from torch import nn

    from nllb_space.model.quantization import Int8Linear

    torch.set_flush_denormal(True)
    results = []
    for out_features, in_features in shapes:
        linear = nn.Linear(in_features, out_features, bias=False).requires_grad_(False)
        int8 = Int8Linear(linear)
        for m in rows:
            x = torch.randn(m, in_features)
            with torch.inference_mode():
                times = {"int8": _ms_per_call(lambda: int8(x), min_seconds),
                         "float32": _ms_per_call(lambda: linear(x), min_seconds)}
            macs = m * in_features * out_features
            for kind, ms in times.items():
                weight_bytes = in_features * out_features * (1 if kind == "int8" else 4)
                results.append({
                    "matrix": f"{out_features}x{in_features}", "rows": m, "kind": kind, "ms": round(ms, 4),
                    "weight_gb_per_s": round(weight_bytes / ms / 1e6, 1), "gmac_per_s": round(macs / ms / 1e6, 1),
                    "cost_vs_one_row": None,
                })
    for row in results:  # how many times one row's time m rows take: 1.0 = the extra rows were free
        one = next(r for r in results if (r["matrix"], r["kind"], r["rows"]) == (row["matrix"], row["kind"], 1))
        row["cost_vs_one_row"] = round(row["ms"] / one["ms"], 2)
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and short timings (smoke test)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    # The same OpenMP setting as app.py, read when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    size = "quick" if args.quick else "600m"
    results = measure(SHAPES[size], ROWS[size], 0.05 if args.quick else 0.5)
    print(f"{'matrix':>13} {'rows':>4} {'kind':>7} {'ms/call':>9} {'weights GB/s':>12} {'GMAC/s':>7} {'x one row':>9}")
    for r in results:
        print(f"{r['matrix']:>13} {r['rows']:>4} {r['kind']:>7} {r['ms']:>9.3f} {r['weight_gb_per_s']:>12.1f} "
              f"{r['gmac_per_s']:>7.1f} {r['cost_vs_one_row']:>9.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    main()
