#!/usr/bin/env bash
# usage: scripts/compare-binaries.sh OLD_BIN NEW_BIN [ROOT]   (name both binaries skyhelm, in different folders:
# --help prints the file name). Used to show a refactor changes no output (issue 26).
# Runs two skyhelm binaries over the same inputs and commands; counts identical/different results
# (stdout, stderr with the binary path masked, exit code).
old=$1 new=$2 root=${3:-/work/main}
work=$(mktemp -d); same=0; diff=0; total=0
export HOME=$work/home XDG_STATE_HOME=$work/state NO_COLOR=1
mkdir -p $HOME
inputs=$(ls /work/shared/fixtures/upstream-skypilot/*/*.yaml $root/examples/helm3-rendered.yaml $root/tests/fixtures/yaml11-stream.yaml $root/tests/fixtures/fuzz/*.yaml $(find $root/tests/fixtures/rbac-shapes -name '*.yaml') 2>/dev/null | grep -v values.yaml)
kcs=$(ls $root/examples/kubeconfig $root/tests/fixtures/kubeconfigs/*.yaml)
run() { # name, cmd...
  local tag=$1; shift
  for b in old new; do
    local bin=${!b}
    (cd $work && "$bin" "$@" > $work/$b.out 2> $work/$b.err < ${STDIN:-/dev/null}; echo $? > $work/$b.rc)
    sed -i -E "s#$bin#BIN#g; s#git [0-9a-f]{12}#git HASH#g" $work/$b.err $work/$b.out
    # last-run file content
    cat $XDG_STATE_HOME/skyhelm/* 2>/dev/null | sed -E "s#$bin#BIN#g; s#git [0-9a-f]{12}#git HASH#g; s#[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z#TIME#g" > $work/$b.last; rm -rf $XDG_STATE_HOME/skyhelm
  done
  total=$((total+1))
  if cmp -s $work/old.out $work/new.out && cmp -s $work/old.err $work/new.err && cmp -s $work/old.rc $work/new.rc && cmp -s $work/old.last $work/new.last; then same=$((same+1)); else diff=$((diff+1)); echo "DIFF: $tag $*"; fi
}
for f in $inputs; do
  for args in "" "--rbac audit" "--rbac tighten" "--rbac off" "--strict" "--no-mount" "--output json" "--allow-unknown-contexts"; do
    STDIN=$f run pr post-render --skypilot-kubeconfig $root/examples/kubeconfig $args
    STDIN=$f run pr2 post-render $args
  done
  STDIN=$f run diff diff --skypilot-kubeconfig $root/examples/kubeconfig
  STDIN=$f run diffj diff --skypilot-kubeconfig $root/examples/kubeconfig --output json
  run diff2 diff --skypilot-kubeconfig $root/examples/kubeconfig $f
done
for k in $kcs; do
  run doc doctor --kubeconfig $k
  run docj doctor --kubeconfig $k --output json
  run docac doctor --kubeconfig $k --allowed-context prod-eu
  run pack kubeconfig pack --kubeconfig $k
done
for a in "--help" "--version" "post-render --help" "diff --help" "doctor --help" "generate --help" "man" "completions bash" "last"; do run misc $a; done
rm -rf $work/g1 $work/g2
for fmt in chart flux argocd helmfile; do
  run gen generate $root/examples/environments.yaml --format $fmt --out $work/gen-$fmt --check
done
for fmt in chart flux argocd helmfile; do
  (cd $work && $old generate $root/examples/environments.yaml --format $fmt --out $work/o-$fmt >/dev/null 2>&1; $new generate $root/examples/environments.yaml --format $fmt --out $work/n-$fmt >/dev/null 2>&1)
  total=$((total+1)); if { [ ! -e $work/o-$fmt ] && [ ! -e $work/n-$fmt ]; } || diff -r $work/o-$fmt $work/n-$fmt >/dev/null; then same=$((same+1)); else diff=$((diff+1)); echo "DIFF: generated $fmt"; fi
done
echo "compared $total: $same identical, $diff different"
rm -rf $work
