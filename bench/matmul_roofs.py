"""Which int8 kernel to serve with, and why beams and batched sentences are not free on this CPU: one NLLB-600M
layer's matmul, by kernel and rows per call.

    python bench/matmul_roofs.py                        # NLLB-600M's shapes, rows 1..240; ~2 minutes on 2 vCPUs
    python bench/matmul_roofs.py --quick                # small shapes, for the smoke test
    python bench/matmul_roofs.py --kinds fbgemm onednn  # only some kernels

Every kind does the same job: float32 x [rows, in] times W^T -> float32 [rows, out]; the int8 kinds store W as int8
with one scale per output row and quantize x per call. The kinds:

    int8 fbgemm   what the app serves (``nllb_space.model.quantization.Int8Linear``): quantized tensors, the
                  ``torch.ao.quantization`` path PyTorch has deprecated in favour of torchao
    int8 oneDNN   PyTorch's current core int8 op (``torch.ops.onednn.qlinear_pointwise``) on a plain int8 weight,
                  x as uint8 with a zero point; the kernel torchao's x86 pt2e lowering targets
    int8 torchao  ``torchao.quantize_(..., Int8DynamicActivationInt8WeightConfig())``, eager; skipped with the reason
                  where torchao does not import (it is not a project dependency)
    bfloat16      nn.Linear in bfloat16 on bf16 input;   float32: nn.Linear, the reference

Per kind it prints the time per call, the weight bytes read per second, the multiply-adds per second, the cost of
m rows against one row (1.0 = the extra rows were free: still memory-bound), the time against ``int8 fbgemm`` for
the same matrix and rows ("÷ app", < 1 = faster than what the app serves), and max|y - y_fp32| / max|y_fp32|, so a
kernel that is fast but wrong shows.

The pick (2-vCPU AMD EPYC with AVX512-BF16, torch 2.11, torchao 0.18; ÷ app at decoding's 1-8 rows): serve
``int8 fbgemm`` while torch ships it, and move to ``int8 oneDNN`` when it goes, not to torchao. fbgemm is the
fastest at the rows a decoding step has: oneDNN takes 1.4-1.5x its time on the output layer (the step's biggest
matmul), 1.2-1.8x on the feed-forward and 1.4-2.2x on the attention matrices; torchao eager takes 1.8-3.5x, 3.2-4.4x
and 3.1-4.6x, and would add a dependency. oneDNN overtakes fbgemm on the output layer from ~30 rows (0.8-0.9x) and
has half its error (fbgemm quantizes x to 7 bits). bfloat16 is 1.1-5.6x fbgemm's time: no substitute for int8.
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
KINDS = {"fbgemm": "int8 fbgemm", "onednn": "int8 oneDNN", "torchao": "int8 torchao", "bfloat16": "bfloat16",
         "float32": "float32"}
APP_KIND = KINDS["fbgemm"]
BYTES_PER_WEIGHT = {"int8 fbgemm": 1, "int8 oneDNN": 1, "int8 torchao": 1, "bfloat16": 2, "float32": 4}
ROUNDS = 3
"""Each kind is timed in turns, best of these rounds: a neighbour's load on a shared CPU then hits every kind alike
instead of whichever kind happened to run while it lasted, and the ratios between kinds stay meaningful."""


def torchao_skipped() -> str | None:
    """Why the torchao kind cannot run in this interpreter, or ``None`` when it can."""
    try:
        import torchao  # noqa: F401  (first, so a blocked ``torchao`` is not bypassed by a cached submodule)
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_  # noqa: F401
    except ImportError as exc:
        if getattr(exc, "name", None) == "torchao" or "torchao" in str(exc).split()[:4]:
            return "torchao is not installed (pip install torchao)"
        return f"torchao does not import: {exc}"
    except Exception as exc:  # noqa: BLE001  (a torchao built for another torch fails in other ways than ImportError)
        return f"torchao does not import: {type(exc).__name__}: {exc}"
    return None


def kernels(linear, kinds: list[str]) -> dict:
    """kind -> (a function of float32 x, returning float32 y) for one frozen bias-less ``linear``."""
    import torch
    from torch import nn

    from nllb_space.model.quantization import Int8Linear

    out = {}
    int8 = Int8Linear(linear)
    if APP_KIND in kinds:
        out[APP_KIND] = int8
    if "int8 oneDNN" in kinds:
        # The very int8 values and scales the app's kernel multiplies, so the two differ only in the kernel.
        qweight = int8.weight
        packed = torch.ops.onednn.qlinear_prepack(qweight.int_repr(), None)
        w_scales = qweight.q_per_channel_scales().float()
        w_zero_points = torch.zeros(linear.out_features, dtype=torch.long)

        def onednn(x):
            # Per call, as the app's kernel does: one scale for x. Unsigned + zero point: signed int8 activations
            # hit a reference kernel about 100x slower.
            scale, zero_point = torch._choose_qparams_per_tensor(x, False)
            qx = torch.clamp(torch.round(x * (1.0 / scale)) + zero_point, 0, 255).to(torch.uint8)
            return torch.ops.onednn.qlinear_pointwise(qx, scale, zero_point, packed, w_scales, w_zero_points, None,
                                                      1.0, 0, torch.float32, "none", [], "")
        out["int8 oneDNN"] = onednn
    if "int8 torchao" in kinds and torchao_skipped() is None:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

        # A Linear sharing the float weight: quantize_ swaps the copy's parameter, the reference stays float32.
        copy = nn.Linear(linear.in_features, linear.out_features, bias=False, device="meta")
        copy.weight = nn.Parameter(linear.weight, requires_grad=False)
        quantize_(torchao := nn.Sequential(copy), Int8DynamicActivationInt8WeightConfig())  # in place
        out["int8 torchao"] = torchao
    if "bfloat16" in kinds:
        # The input is cast outside the timed call: a bf16 model's activations are bf16 already.
        bf16 = nn.Linear(linear.in_features, linear.out_features, bias=False, device="meta")
        bf16.weight = nn.Parameter(linear.weight.to(torch.bfloat16), requires_grad=False)
        out["bfloat16"] = (bf16, torch.bfloat16)
    if "float32" in kinds:
        out["float32"] = linear
    return {kind: run if isinstance(run, tuple) else (run, torch.float32) for kind, run in out.items()}


def _best_ms(runs: dict, min_seconds: float, rounds: int) -> dict[str, float]:
    for run in runs.values():  # warm-up: first-call packing and allocation are not what a decoding step pays
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for kind, run in runs.items():
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < min_seconds / rounds or calls < 1:
                run()
                calls += 1
            best[kind] = min(best[kind], elapsed / calls * 1e3)
    return best


def measure(shapes, rows, min_seconds: float, kinds: list[str], rounds: int = ROUNDS) -> list[dict]:
    import torch
    from torch import nn

    torch.set_flush_denormal(True)
    skipped = torchao_skipped() if "int8 torchao" in kinds else None
    results = []
    for out_features, in_features in shapes:
        linear = nn.Linear(in_features, out_features, bias=False).requires_grad_(False)
        runs = kernels(linear, kinds)
        for m in rows:
            matrix, x = f"{out_features}x{in_features}", torch.randn(m, in_features)
            with torch.inference_mode():
                reference = linear(x)
                inputs = {kind: x.to(dtype) for kind, (_, dtype) in runs.items()}
                calls = {kind: (lambda run=run, x=inputs[kind]: run(x)) for kind, (run, _) in runs.items()}
                times = _best_ms(calls, min_seconds, rounds)
                errors = {kind: ((call().float() - reference).abs().max() / reference.abs().max()).item()
                          for kind, call in calls.items()}
            for kind in kinds:  # in the order asked, a skipped kind where it would have been
                row = {"matrix": matrix, "rows": m, "kind": kind}
                if kind not in times:
                    results.append({**row, "skipped": skipped})
                    continue
                ms, weight_bytes = times[kind], in_features * out_features * BYTES_PER_WEIGHT[kind]
                results.append({**row, "ms": round(ms, 4), "weight_gb_per_s": round(weight_bytes / ms / 1e6, 1),
                                "gmac_per_s": round(m * in_features * out_features / ms / 1e6, 1),
                                "over_app": round(ms / times[APP_KIND], 2) if APP_KIND in times else None,
                                "max_rel_error": round(errors[kind], 5), "app": kind == APP_KIND})
        del linear, runs
    for row in results:  # how many times one row's time m rows take: 1.0 = the extra rows were free
        if "ms" in row:
            one = next(r for r in results if (r["matrix"], r["kind"], r["rows"]) == (row["matrix"], row["kind"], 1))
            row["cost_vs_one_row"] = round(row["ms"] / one["ms"], 2)
    return results


def table(results: list[dict]) -> str:
    lines = [(f"{'matrix':>13} {'rows':>4} {'kind':>12} {'ms/call':>9} {'weights GB/s':>12} {'GMAC/s':>7} "
              f"{'x one row':>9} {'÷ app':>6} {'max rel err':>11}")]
    for r in results:
        head = f"{r['matrix']:>13} {r['rows']:>4} {r['kind']:>12}"
        if "skipped" in r:
            lines.append(f"{head}   skipped ({r['skipped']})")
            continue
        over_app = "-" if r["over_app"] is None else f"{r['over_app']:.2f}"
        lines.append(f"{head} {r['ms']:>9.3f} {r['weight_gb_per_s']:>12.1f} {r['gmac_per_s']:>7.1f} "
                     f"{r['cost_vs_one_row']:>9.2f} {over_app:>6} {r['max_rel_error']:>11.4f}")
    lines.append(f"÷ app: ms ÷ ms of {APP_KIND}, the kernel the app serves (Int8Linear); "
                 "max rel err: max|y - y_fp32| / max|y_fp32|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and short timings (smoke test)")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS), help="kernels to time")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    # The same OpenMP setting as app.py, read when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    size = "quick" if args.quick else "600m"
    kinds = [KINDS[k] for k in dict.fromkeys(args.kinds)]
    results = measure(SHAPES[size], ROWS[size], 0.05 if args.quick else 0.5, kinds, 1 if args.quick else ROUNDS)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    main()
