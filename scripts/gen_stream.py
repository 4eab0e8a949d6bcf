#!/usr/bin/env python3
"""Writes a manifest stream shaped like what Helm renders: ConfigMaps and Deployments with
`# Source:` comments, and the SkyPilot chart (examples/helm3-rendered.yaml) in the middle.

usage: gen_stream.py RESOURCES OUT
       gen_stream.py --roles N OUT   (N small Roles, ~150 bytes each, and the SkyPilot chart:
                                      the RBAC evaluation's memory benchmark)
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


def main():
    if sys.argv[1] == "--roles":
        return roles(int(sys.argv[2]), sys.argv[3])
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
