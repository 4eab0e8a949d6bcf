#!/usr/bin/env python3
"""Writes a manifest stream shaped like what Helm renders: ConfigMaps and Deployments with
`# Source:` comments, and the SkyPilot chart (examples/helm3-rendered.yaml) in the middle.

usage: gen_stream.py RESOURCES OUT
       gen_stream.py --roles N OUT   (N small Roles, ~150 bytes each, and the SkyPilot chart:
                                      the RBAC evaluation's memory benchmark)
       gen_stream.py --rbac SHAPE N OUT   (the SkyPilot chart and an RBAC shape of issue 21 §1,
                                      bound to the API server's account skypilot/skypilot-api-sa
                                      unless said otherwise):
         bindings-x-rules  one Role of N rules bound by N/4 RoleBindings
         huge-role         one Role of N `*` rules, bound once
         many-roles        N small Roles, each bound by its own RoleBinding
         other-accounts    one Role bound to the account and by N RoleBindings to other accounts
         unbound-roles     N small Roles bound to no one (as --roles)
       gen_stream.py --huge SHAPE N OUT   (the SkyPilot chart with one huge document skyhelm
                                      parses and edits, issue 23):
         config            config.yaml of the API server's ConfigMap grown by N env entries
                           under kubernetes.pod_config (2 lines each; N = 100,000: 16.4 MB)
         env               the API container with N more env entries (N = 100,000: 6.1 MB)
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CM = """---
# Source: big/templates/cm-{i}.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-{i}
  namespace: big
  labels:
    app.kubernetes.io/name: big
    app.kubernetes.io/instance: cm-{i}
data:
  key: "value-{i}"
  mode: "0600"
  enabled: "yes"
  text: |
    some text that
    spans lines {i}
"""

DEP = """---
# Source: big/templates/dep-{i}.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  namespace: big
  labels:
    app.kubernetes.io/name: web-{i}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web-{i}
  template:
    metadata:
      labels:
        app: web-{i}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: "on"
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        emptyDir: {{}}
"""


ROLE = """---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r-{i:06d}
  namespace: t-{t}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get]
"""


def roles(n, out):
    chart = open(os.path.join(ROOT, "examples", "helm3-rendered.yaml")).read()
    parts = [chart if chart.startswith("---") else "---\n" + chart]
    parts.extend(ROLE.format(i=i, t=i % 100) for i in range(n))
    with open(out, "w") as f:
        f.write("".join(parts))


SUBJECT = """subjects:
- kind: ServiceAccount
  name: {sa}
  namespace: {ns}
"""

BINDING = """---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: b-{i:06d}
  namespace: skypilot
{subjects}roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {role}
"""

# Resources the rules name, in turn (core group): documented and undocumented ones.
RESOURCES = ["pods", "services", "secrets", "configmaps", "events", "endpoints", "pods/exec", "pods/log"]


def rule(i, star):
    verbs = '["*"]' if star else "[get, list, watch]"
    return f'- apiGroups: [""]\n  resources: [{RESOURCES[i % len(RESOURCES)]}]\n  verbs: {verbs}\n'


def role(name, rules):
    return f"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\n  namespace: skypilot\nrules:\n{rules}"


def account():
    return SUBJECT.format(sa="skypilot-api-sa", ns="skypilot")


def rbac(shape, n, out):
    chart = open(os.path.join(ROOT, "examples", "helm3-rendered.yaml")).read()
    parts = [chart if chart.startswith("---") else "---\n" + chart]
    if shape == "bindings-x-rules":
        parts.append(role("big", "".join(rule(i, i % 2 == 0) for i in range(n))))
        parts.extend(BINDING.format(i=i, subjects=account(), role="big") for i in range(max(1, n // 4)))
    elif shape == "huge-role":
        parts.append(role("huge", "".join(rule(i, True) for i in range(n))))
        parts.append(BINDING.format(i=0, subjects=account(), role="huge"))
    elif shape == "many-roles":
        for i in range(n):
            parts.append(role(f"r-{i:06d}", rule(i, i % 2 == 0)))
            parts.append(BINDING.format(i=i, subjects=account(), role=f"r-{i:06d}"))
    elif shape == "other-accounts":
        parts.append(role("shared", "".join(rule(i, True) for i in range(8))))
        parts.append(BINDING.format(i=0, subjects=account(), role="shared"))
        for i in range(1, n + 1):
            parts.append(BINDING.format(i=i, subjects=SUBJECT.format(sa=f"sa-{i:06d}", ns=f"t-{i % 100}"), role="shared"))
    elif shape == "unbound-roles":
        return roles(n, out)
    else:
        sys.exit(f"unknown shape {shape}")
    with open(out, "w") as f:
        f.write("".join(parts))


def huge(shape, n, out):
    chart = open(os.path.join(ROOT, "examples", "helm3-rendered.yaml")).read()
    chart = chart if chart.startswith("---") else "---\n" + chart
    if shape == "config":
        anchor = "      allowed_contexts:\n        - prod-eu\n        - train-us\n"
        pad = "x" * 45
        entries = "".join(
            f"              - name: CONFIG_ENV_{i:06d}\n                value: \"{pad}-{i:06d}-{pad}\"\n" for i in range(n)
        )
        grown = anchor + "      pod_config:\n        spec:\n          containers:\n            - env:\n" + entries
        if anchor not in chart:
            sys.exit("examples/helm3-rendered.yaml: allowed_contexts not found")
        chart = chart.replace(anchor, grown, 1)
    elif shape == "env":
        anchor = "        env:\n        - name: SKYPILOT_DEV\n"
        entries = "".join(f"        - name: EXTRA_ENV_{i:06d}\n          value: \"v-{i:06d}\"\n" for i in range(n))
        if anchor not in chart:
            sys.exit("examples/helm3-rendered.yaml: the API container's env not found")
        chart = chart.replace(anchor, "        env:\n" + entries + anchor[len("        env:\n"):], 1)
    else:
        sys.exit(f"unknown shape {shape}")
    with open(out, "w") as f:
        f.write(chart)


def main():
    if sys.argv[1] == "--huge":
        return huge(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    if sys.argv[1] == "--roles":
        return roles(int(sys.argv[2]), sys.argv[3])
    if sys.argv[1] == "--rbac":
        return rbac(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    n, out = int(sys.argv[1]), sys.argv[2]
    chart = open(os.path.join(ROOT, "examples", "helm3-rendered.yaml")).read()
    chart_docs = chart.count("\n---\n") + 1
    parts = []
    for i in range((n - chart_docs) // 2):
        parts.append(CM.format(i=i))
        parts.append(DEP.format(i=i))
        if i == (n - chart_docs) // 4:
            parts.append(chart if chart.startswith("---") else "---\n" + chart)
    with open(out, "w") as f:
        f.write("".join(parts))


if __name__ == "__main__":
    main()
