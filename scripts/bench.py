#!/usr/bin/env python3
"""Whole-process wall time and peak memory of skyhelm against `cat` (the floor) and
`kubectl kustomize` with the equivalent patches (mount the kubeconfig Secret), on streams of
growing size. Prints a markdown table; medians of several runs (kustomize: one run, it is slow).

usage: scripts/bench.py [--kustomize-max N] [--roles N] [--rbac-only] [--linearity]
                        (needs a release build: cargo build --release)
--roles N adds the RBAC shapes of issue 21 §1 (scripts/gen_stream.py --rbac; N scales them)
measured with each --rbac mode, against the budget 3 × input + 20 MB (wall and CPU seconds: on a
busy machine the CPU time is the steadier one). --rbac-only skips the rest. --linearity also
runs each shape at twice its size and prints, per mode, the CPU time per input byte at 2N over
that at N (1.0: linear; 2.0: quadratic).
Run as root so kustomize can run without network (`unshare -n`), or it waits for a cluster.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKYHELM = os.path.join(ROOT, "target", "release", "skyhelm")
KUBECONFIG = os.path.join(ROOT, "examples", "kubeconfig")

KUSTOMIZATION = """resources:
- stream.yaml
patches:
- target:
    kind: Deployment
    name: skypilot-api-server
  patch: |-
    - op: add
      path: /spec/template/spec/volumes/-
      value: {name: kube-config, secret: {secretName: kube-credentials}}
    - op: add
      path: /spec/template/spec/containers/0/volumeMounts/-
      value: {name: kube-config, mountPath: /root/.kube, readOnly: true}
"""


def run(cmd, stdin_path):
    """One run: (wall seconds, peak RSS in MB). The peak RSS comes from GNU time, which starts
    the command from its own small process (a child of Python would report Python's memory)."""
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as devnull, tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, stdin=stdin, stdout=devnull, stderr=devnull)
        wall = time.perf_counter() - start
        kb = int(rss.read().split()[-1])
    if p.returncode not in (0, 2):
        sys.exit(f"{cmd} failed with {p.returncode}")
    return wall, kb / 1024


def run_cpu(cmd, stdin_path):
    """One run: (wall seconds, CPU seconds (user + system), peak RSS in MB, stderr lines)."""
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as devnull, tempfile.NamedTemporaryFile("r") as rss, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss.name] + cmd, stdin=stdin, stdout=devnull, stderr=err)
        wall = time.perf_counter() - start
        kb, user, system = rss.read().split()[-3:]
        err.seek(0)
        lines = err.read().count(b"\n")
    if p.returncode not in (0, 2):
        sys.exit(f"{cmd} failed with {p.returncode}")
    return wall, float(user) + float(system), int(kb) / 1024, lines


def measure_cpu(cmd, stdin_path, runs):
    results = [run_cpu(cmd, stdin_path) for _ in range(runs)]
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        max(r[2] for r in results),
        results[-1][3],
    )


def measure(cmd, stdin_path, runs):
    results = [run(cmd, stdin_path) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kustomize-max", type=int, default=6000, help="largest stream kustomize runs on")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--roles", type=int, default=100000, help="scale of the RBAC shapes (0: skip them)")
    ap.add_argument("--rbac-only", action="store_true", help="measure only the RBAC shapes")
    ap.add_argument("--linearity", action="store_true", help="also run each RBAC shape at 2N: CPU time per byte ratio")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    kubectl = shutil.which("kubectl") or os.path.join(ROOT, ".tools", "kubectl")
    unshare = ["unshare", "-n"] if os.geteuid() == 0 and shutil.which("unshare") else []
    streams = [] if args.rbac_only else [("SkyPilot chart alone", os.path.join(ROOT, "examples", "helm3-rendered.yaml"))]
    for n in () if args.rbac_only else (6000, 60000):
        path = os.path.join(tmp, f"stream-{n}.yaml")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_stream.py"), str(n), path], check=True)
        streams.append((f"{n} resources", path))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; median of {args.runs} runs (kustomize: 1)\n")
    if streams:
        print("| stream | size | command | wall (ms) | peak RSS (MB) | × cat | × kustomize |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, path in streams:
        size = os.path.getsize(path)
        docs = open(path, "rb").read().count(b"\n---") + 1
        rows = []
        cat = measure(["cat"], path, args.runs)
        rows.append(("cat", cat))
        rows.append(("skyhelm post-render", measure([SKYHELM, "post-render", "--skypilot-kubeconfig", KUBECONFIG], path, args.runs)))
        rows.append(("skyhelm diff", measure([SKYHELM, "diff", "--kubeconfig", KUBECONFIG], path, args.runs)))
        rows.append(("skyhelm doctor --manifests", measure([SKYHELM, "doctor", "--kubeconfig", KUBECONFIG, "--manifests", "-"], path, args.runs)))
        kust = None
        if docs <= args.kustomize_max:
            kdir = os.path.join(tmp, f"k-{docs}")
            os.makedirs(kdir, exist_ok=True)
            shutil.copy(path, os.path.join(kdir, "stream.yaml"))
            open(os.path.join(kdir, "kustomization.yaml"), "w").write(KUSTOMIZATION)
            kust = measure(unshare + [kubectl, "kustomize", kdir], os.devnull, 1)
            rows.append(("kubectl kustomize", kust))
        for name, (wall, rss) in rows:
            x_cat = f"{wall / cat[0]:.1f}" if cat[0] > 0 else "-"
            x_k = f"{wall / kust[0]:.4f}" if kust else "-"
            print(f"| {label} | {size / 1e6:.2f} MB | {name} | {wall * 1000:.1f} | {rss:.1f} | {x_cat} | {x_k} |")
    if args.roles:
        n = args.roles
        # (shape, N): the cases at scale n = 100,000.
        shapes = [
            ("bindings-x-rules", n // 25),
            ("huge-role", n * 5 // 2),
            ("many-roles", n // 2),
            ("other-accounts", n),
            ("unbound-roles", n),
        ]
        print("\nRBAC shapes (scripts/gen_stream.py --rbac SHAPE N), budget 3 × input + 20 MB\n")
        print("| shape | N | size | --rbac | wall (s) | CPU (s) | peak RSS (MB) | budget (MB) | stderr lines |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        ratios = []
        for shape, count in shapes:
            cpu_at = {}
            for scale in (1, 2) if args.linearity else (1,):
                path = os.path.join(tmp, f"{shape}-{scale}.yaml")
                subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_stream.py"), "--rbac", shape, str(count * scale), path], check=True)
                size = os.path.getsize(path)
                for mode in ("off", "add", "audit", "tighten"):
                    cmd = [SKYHELM, "post-render", "--allow-unknown-contexts", "--skypilot-kubeconfig", KUBECONFIG, "--rbac", mode]
                    wall, cpu, rss, lines = measure_cpu(cmd, path, args.runs)
                    cpu_at[(mode, scale)] = (cpu, size)
                    print(f"| {shape} | {count * scale} | {size / 1e6:.2f} MB | {mode} | {wall:.2f} | {cpu:.2f} | {rss:.1f} | {3 * size / 1e6 + 20:.1f} | {lines} |")
                os.remove(path)
            if args.linearity:
                for mode in ("add", "audit", "tighten"):
                    (c1, s1), (c2, s2) = cpu_at[(mode, 1)], cpu_at[(mode, 2)]
                    ratio = (c2 / s2) / (c1 / s1) if c1 > 0 and s1 > 0 else float("nan")
                    ratios.append((shape, count, mode, c1, c2, ratio))
        if ratios:
            print("\nLinearity: CPU time per input byte at 2N over that at N (1.0: linear; 2.0: quadratic)\n")
            print("| shape | N | --rbac | CPU at N (s) | CPU at 2N (s) | ratio per byte |")
            print("| --- | --- | --- | --- | --- | --- |")
            for shape, count, mode, c1, c2, ratio in ratios:
                print(f"| {shape} | {count} | {mode} | {c1:.2f} | {c2:.2f} | {ratio:.2f} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
