#!/usr/bin/env python3
"""Whole-process wall time and peak memory of skyhelm against `cat` (the floor) and
`kubectl kustomize` with the equivalent patches (mount the kubeconfig Secret), on streams of
growing size. Prints a markdown table; medians of several runs (kustomize: one run, it is slow).

usage: scripts/bench.py [--kustomize-max N] [--roles N] [--rbac-only]   (needs a release build: cargo build --release)
--roles N adds the RBAC shapes of issue 21 §1 (scripts/gen_stream.py --rbac; N scales them)
measured with each --rbac mode, against the budget 3 × input + 20 MB. --rbac-only skips the rest.
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


def measure(cmd, stdin_path, runs):
    results = [run(cmd, stdin_path) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kustomize-max", type=int, default=6000, help="largest stream kustomize runs on")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--roles", type=int, default=100000, help="scale of the RBAC shapes (0: skip them)")
    ap.add_argument("--rbac-only", action="store_true", help="measure only the RBAC shapes")
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
        print("| shape | N | size | --rbac | wall (ms) | peak RSS (MB) | budget (MB) | stderr lines |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for shape, count in shapes:
            path = os.path.join(tmp, f"{shape}.yaml")
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_stream.py"), "--rbac", shape, str(count), path], check=True)
            size = os.path.getsize(path)
            for mode in ("off", "add", "audit", "tighten"):
                cmd = [SKYHELM, "post-render", "--allow-unknown-contexts", "--skypilot-kubeconfig", KUBECONFIG, "--rbac", mode]
                wall, rss = measure(cmd, path, args.runs)
                with open(path, "rb") as stdin:
                    lines = subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).stderr.count(b"\n")
                print(f"| {shape} | {count} | {size / 1e6:.2f} MB | {mode} | {wall * 1000:.0f} | {rss:.1f} | {3 * size / 1e6 + 20:.1f} | {lines} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
