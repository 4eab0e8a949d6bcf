#!/usr/bin/env python3
"""Whole-process wall time and peak memory of skyhelm against `cat` (the floor) and
`kubectl kustomize` with the equivalent patches (mount the kubeconfig Secret), on streams of
growing size. Prints a markdown table; medians of several runs (kustomize: one run, it is slow).

usage: scripts/bench.py [--kustomize-max N] [--roles N] [--rbac-only] [--floor-only] [--linearity]   (needs a release build: cargo build --release)
The first table (issue 23) measures skyhelm against the floor side by side, run for run: the
27 MB stream (gen_stream.py 60000) against `cat FILE > /dev/null` with stdin a file and against
`cat FILE | cat` through a pipe, its peak against 1.2 × input + 12 MB, the huge documents
(gen_stream.py --huge) against 4 × size + 20 MB and 0.2 s, 2.7 MB, and `--version`.
--floor-only prints only that table.
--roles N adds the RBAC shapes of issue 21 §1 (scripts/gen_stream.py --rbac; N scales them)
measured with each --rbac mode, against the budget 3 × input + 20 MB (MB: 10^6 bytes, peak RSS
converted from GNU time's KiB to the same unit; wall and CPU seconds: on a busy machine the CPU
time is the steadier one). --rbac-only skips the rest. --linearity also
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
    return wall, kb * 1024 / 1e6


def run_cpu(cmd, stdin_path):
    """One run: (wall seconds, CPU seconds (user + system), peak RSS in MB (10^6 bytes, from
    GNU time's KiB, as the budget counts), stderr lines)."""
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as devnull, tempfile.NamedTemporaryFile("r") as rss, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss.name] + cmd, stdin=stdin, stdout=devnull, stderr=err)
        wall = time.perf_counter() - start
        kb, user, system = rss.read().split()[-3:]
        err.seek(0)
        lines = err.read().count(b"\n")
    if p.returncode not in (0, 2):
        sys.exit(f"{cmd} failed with {p.returncode}")
    return wall, float(user) + float(system), int(kb) * 1024 / 1e6, lines


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


def child(cmd, stdin, stdout, rss=None):
    """Starts `cmd`, under GNU time writing its peak RSS to the file `rss` when given."""
    timed = ["/usr/bin/time", "-f", "%M", "-o", rss] + cmd if rss else cmd
    return subprocess.Popen(timed, stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL)


def reap(p):
    """Waits for `p`: CPU seconds (user + system, from wait4: with GNU time's, which is small
    and the same for every command measured)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 2):
        sys.exit(f"{p.args} failed with {p.returncode}")
    return ru.ru_utime + ru.ru_stime


def once(cmd, path, pipe):
    """One run of `cmd` with stdin the file at `path`, or `cat path` through a pipe when `pipe`:
    (wall s, CPU s of every process, peak RSS MB of `cmd`). The peak comes from GNU time, which
    starts the command from its own small process (a child of Python would count Python's)."""
    with open(path, "rb") as f, open(os.devnull, "wb") as devnull, tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        if pipe:
            cat = child(["cat", path], subprocess.DEVNULL, subprocess.PIPE)
            p = child(cmd, cat.stdout, devnull, rss.name)
            cat.stdout.close()
            cpu_cat = reap(cat)
        else:
            p, cpu_cat = child(cmd, f, devnull, rss.name), 0.0
        cpu = reap(p)
        wall = time.perf_counter() - start
        return wall, cpu + cpu_cat, int(rss.read().split()[-1]) * 1024 / 1e6


def side_by_side(cmds, path, pipe, runs):
    """Runs each command of `cmds` once per round, `runs` rounds (so a busy machine slows them
    alike): per command (median wall s, median CPU s, peak RSS MB)."""
    results = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            results[i].append(once(cmd, path, pipe))
    return [(statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs), max(r[2] for r in rs)) for rs in results]


def floor(args, tmp):
    """Issue 23's targets, each as a ratio measured in this run."""
    gen = os.path.join(ROOT, "scripts", "gen_stream.py")
    big, small = os.path.join(tmp, "floor-60000.yaml"), os.path.join(tmp, "floor-6000.yaml")
    subprocess.run([sys.executable, gen, "60000", big], check=True)
    subprocess.run([sys.executable, gen, "6000", small], check=True)
    post = [SKYHELM, "post-render", "--skypilot-kubeconfig", KUBECONFIG]
    runs = args.runs
    mb = lambda path: os.path.getsize(path) / 1e6
    ms = lambda s: f"{s * 1000:.1f} ms"
    rows = []
    def row(what, value, floor_text, ratio, target, ok):
        rows.append((what, value, floor_text, ratio, target, "yes" if ok else "NO"))
    (sw, sc, srss), (cw, cc, _) = side_by_side([post, ["cat"]], big, False, runs)
    row(f"{mb(big):.2f} MB, stdin a file: wall", ms(sw), f"cat FILE > /dev/null {ms(cw)}", f"{sw / cw:.1f}×", "≤ 5×", sw <= 5 * cw)
    row(f"{mb(big):.2f} MB, stdin a file: CPU", ms(sc), f"cat FILE > /dev/null {ms(cc)}", f"{sc / cc:.1f}×", "≤ 5×", sc <= 5 * cc)
    budget = 1.2 * mb(big) + 12
    row(f"{mb(big):.2f} MB: peak RSS", f"{srss:.1f} MB", f"1.2 × input + 12 = {budget:.1f} MB", f"{srss / budget:.2f}", "≤ 1", srss <= budget)
    (pw, pc, prss), (qw, qc, _) = side_by_side([post, ["cat"]], big, True, runs)
    row(f"{mb(big):.2f} MB, `cat FILE | skyhelm`: wall", ms(pw), f"cat FILE | cat {ms(qw)}", f"{pw / qw:.1f}×", "≤ 5×", pw <= 5 * qw)
    row(f"{mb(big):.2f} MB, `cat FILE | skyhelm`: CPU", ms(pc), f"cat FILE | cat {ms(qc)}", f"{pc / qc:.1f}×", "≤ 5×", pc <= 5 * qc)
    row(f"{mb(big):.2f} MB through a pipe: peak RSS", f"{prss:.1f} MB", f"{budget:.1f} MB", f"{prss / budget:.2f}", "≤ 1", prss <= budget)
    ((tw, tc, trss),) = side_by_side([post], small, False, runs)
    row(f"{mb(small):.2f} MB: wall / CPU / peak", f"{ms(tw)} / {ms(tc)} / {trss:.1f} MB", "-", "-", "no slower than before (README)", True)
    ((vw, _, _),) = side_by_side([[SKYHELM, "--version"]], os.devnull, False, runs)
    row("`skyhelm --version` (process start)", ms(vw), "-", "-", "≤ 5 ms", vw <= 0.005)
    for shape, n in (("config", args.huge), ("env", args.huge)):
        path = os.path.join(tmp, f"huge-{shape}.yaml")
        subprocess.run([sys.executable, gen, "--huge", shape, str(n), path], check=True)
        ((hw, hc, hrss),) = side_by_side([post], path, False, max(1, runs // 2))
        hb = 4 * mb(path) + 20
        what = f"huge {shape} ({n:,}; {mb(path):.1f} MB)"
        row(f"{what}: peak RSS", f"{hrss:.1f} MB", f"4 × size + 20 = {hb:.1f} MB", f"{hrss / hb:.2f}", "≤ 1", hrss <= hb)
        row(f"{what}: wall / CPU", f"{ms(hw)} / {ms(hc)}", "-", f"{hw / 0.2:.2f}", "≤ 0.2 s", hw <= 0.2)
    print(f"Issue 23, skyhelm against the floor: median of {runs} runs side by side (huge documents: {max(1, runs // 2)})\n")
    print("| measure | skyhelm | floor / budget | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kustomize-max", type=int, default=6000, help="largest stream kustomize runs on")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--roles", type=int, default=100000, help="scale of the RBAC shapes (0: skip them)")
    ap.add_argument("--rbac-only", action="store_true", help="measure only the RBAC shapes")
    ap.add_argument("--floor-only", action="store_true", help="measure only issue 23's floor table")
    ap.add_argument("--huge", type=int, default=100000, help="entries of the huge-document shapes")
    ap.add_argument("--linearity", action="store_true", help="also run each RBAC shape at 2N: CPU time per byte ratio")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    # The last-run report goes to a scratch state folder, never the user's.
    os.environ["XDG_STATE_HOME"] = os.path.join(tmp, "state")
    if not args.rbac_only:
        floor(args, tmp)
    if args.floor_only:
        shutil.rmtree(tmp)
        return
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
        print("| shape | N | size | --rbac | wall (s) | CPU (s) | peak RSS (MB) | budget (MB) | within | stderr lines |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
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
                    budget = 3 * size / 1e6 + 20
                    within = "yes" if rss <= budget else "NO"
                    print(f"| {shape} | {count * scale} | {size / 1e6:.2f} MB | {mode} | {wall:.2f} | {cpu:.2f} | {rss:.1f} | {budget:.1f} | {within} | {lines} |")
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
