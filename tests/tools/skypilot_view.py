"""skypilot_view: which Kubernetes contexts would the SkyPilot API server pod really use?

The tests' oracle for contexts: SkyPilot's own code decides, not skyhelm's. Run it with the
venv scripts/install-tools.sh makes (.tools/skypilot-venv/bin/python, skypilot[kubernetes]
0.14.1):

    skypilot_view.py [--kubeconfig FILE] [STREAM]     one JSON object on stdout
    skypilot_view.py --batch                          stdin: JSON array of
                                                      {"stream": TEXT, "kubeconfig": PATH|null};
                                                      stdout: JSON array of views, same order

STREAM (default stdin) is a manifest stream as a post-renderer receives or writes it (Helm 3's
`helm template` text or Helm 4's re-serialized form). FILE is the kubeconfig the Secret holds
(its key `config`). Exit 2 with the reason on stderr when the stream has no API server.

The pod's view, built from the stream as the kubelet would build the pod:
- the Deployment whose pod template has a container `skypilot-api` (exactly one);
- the container's env: `envFrom` ConfigMaps/Secrets found in the stream first (in order, with
  `prefix`), then `env` entries overriding them; `value` entries get `$(VAR)` expanded as the
  kubelet does (`$$` is `$`, an unknown `$(X)` stays as written); `valueFrom` from a
  ConfigMap/Secret in the stream or `fieldRef: metadata.namespace` is resolved; anything else
  (another fieldRef, a source not in the stream) is left unset and listed in `unresolved_env`;
- the ServiceAccount token: the pod's `automountServiceAccountToken`, else its ServiceAccount's
  (found in the stream), else true;
- the kubeconfig: the paths the pod reads (`KUBECONFIG`, else $HOME/.kube/config with HOME
  /root) that fall in a Secret volume the container mounts (directory mount: key = the file name,
  through `items` when given; `subPath` mount: key = subPath). FILE is placed at the path whose
  key is `config` (without FILE: the Secret's `config` from the stream, if there). Paths on other
  volumes (the chart's PVC `/root/.kube` with SSH node pools) are taken as absent: their content
  is state the render does not show;
- config.yaml: key `config.yaml` of the ConfigMap mounted as volume `skypilot-config`, placed
  where the server reads it: $SKYPILOT_GLOBAL_CONFIG, else ~/.sky/config.yaml (the chart copies
  the ConfigMap there on first start).

Then, in a scratch directory standing for the pod's filesystem (every pod path P is
SCRATCH/P; HOME, KUBECONFIG and SKYPILOT_GLOBAL_CONFIG are rewritten to match), with exactly the
container's env (plus PATH and IS_SKYPILOT_SERVER=1, as in the server) and SkyPilot believing the
token exists or not (`kubernetes_utils.is_incluster_config_available` and os.path.exists of the
token path are patched; nothing is written under /var/run), it asks SkyPilot:
- `skypilot_config.reload_config()` (the server's load; an exception is `load_error`: the
  server would not start, and then no contexts are reported);
- `sky.clouds.Kubernetes.existing_allowed_contexts()` globally (the active workspace) and
  inside `skypilot_config.local_active_workspace_ctx(ws)` for every key of `workspaces`;
- `common_utils.validate_schema(config, schemas.get_config_schema(), skip_none=False)`, as the
  server validates (`schema_error`), and PyYAML's load as SkyPilot does (`yaml_error`: SkyPilot
  logs it and runs with an empty config).

Output (one view):
  {"global": [..]|null, "workspaces": {ws: [..]}, "configured": {"global": X,
   "workspaces": {ws: {"value": X, "own": bool}}},   X = SkyPilot's resolved allowed_contexts
   (list, "all" or null); own = the workspace has its own list (else it inherits)
   "contexts": [every context SkyPilot sees, in-cluster included when the token exists],
   "current_context": str|null, "in_cluster_name": str, "token": bool,
   "kubeconfig_mounted": bool, "kubeconfig_path": pod path|null, "kubeconfig_secret": str|null,
   "kubeconfig_paths": [paths the pod reads], "config_path": pod path|null,
   "kubeconfig_contexts": [the contexts of FILE (or of the mounted Secret in the stream),
   mounted or not], "kubeconfig_current_context": its current-context|null,
   "schema_error": str|null, "yaml_error": str|null, "load_error": str|null,
   "skipped": [{"scope": "global"|ws, "names": [..], "log": SkyPilot's warning line}],
   "env": {name: value for SKYPILOT_*, KUBECONFIG, HOME}, "unresolved_env": [{name, source}]}

`sky` is imported once; each evaluation runs in a forked child (a fresh process state, no
import cost), bounded by SKYPILOT_VIEW_TIMEOUT seconds (default 60).
"""

import base64
import json
import logging
import os
import shutil
import signal
import sys
import tempfile

import yaml

TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token'
API_CONTAINER = 'skypilot-api'
CONFIG_VOLUME = 'skypilot-config'
POD_HOME = '/root'


class ViewError(Exception):
    pass


# ---------------------------------------------------------------- the pod, from the stream


def load_stream(text):
    docs = []
    for d in yaml.safe_load_all(text):
        if isinstance(d, dict):
            docs.append(d)
    return docs


def find(docs, kind, name, namespace):
    """The object of `kind` named `name`, preferring the pod's namespace (Helm 3 leaves some
    objects without one)."""
    hits = [d for d in docs if d.get('kind') == kind and (d.get('metadata') or {}).get('name') == name]
    for d in hits:
        if (d.get('metadata') or {}).get('namespace') in (None, namespace):
            return d
    return None


def object_data(obj):
    """A ConfigMap's or Secret's key → text map (Secret data is base64; stringData wins)."""
    out = {}
    if obj.get('kind') == 'Secret':
        for k, v in (obj.get('data') or {}).items():
            out[str(k)] = base64.b64decode(v or '').decode('utf-8', 'replace')
    else:
        for k, v in (obj.get('data') or {}).items():
            out[str(k)] = '' if v is None else str(v)
    for k, v in (obj.get('stringData') or {}).items():
        out[str(k)] = '' if v is None else str(v)
    return out


def expand(value, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion)."""
    out = []
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == '$' and i + 1 < n:
            nxt = value[i + 1]
            if nxt == '$':
                out.append('$')
                i += 2
                continue
            if nxt == '(':
                j = value.find(')', i + 2)
                if j == -1:
                    out.append('$(')
                    i += 2
                    continue
                name = value[i + 2:j]
                out.append(env[name] if name in env else '$(' + name + ')')
                i = j + 1
                continue
            out.append('$' + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def container_env(docs, container, namespace):
    env = {}
    unresolved = []
    for src in container.get('envFrom') or []:
        prefix = src.get('prefix') or ''
        for kind, key in (('ConfigMap', 'configMapRef'), ('Secret', 'secretRef')):
            ref = src.get(key)
            if ref is None:
                continue
            obj = find(docs, kind, ref.get('name'), namespace)
            if obj is None:
                unresolved.append({'name': '*', 'source': f'envFrom {kind} {ref.get("name")} (not in the stream)'})
                continue
            for k, v in object_data(obj).items():
                env[prefix + k] = v
    for e in container.get('env') or []:
        name = e.get('name')
        if 'valueFrom' not in e or e.get('valueFrom') is None:
            v = e.get('value')
            env[name] = expand('' if v is None else str(v), env)
            continue
        vf = e['valueFrom']
        resolved = None
        source = json.dumps(vf, sort_keys=True)
        for kind, key in (('ConfigMap', 'configMapKeyRef'), ('Secret', 'secretKeyRef')):
            ref = vf.get(key)
            if ref is not None:
                obj = find(docs, kind, ref.get('name'), namespace)
                if obj is not None:
                    resolved = object_data(obj).get(ref.get('key'))
        field = (vf.get('fieldRef') or {}).get('fieldPath')
        if field == 'metadata.namespace':
            resolved = namespace
        if resolved is None:
            env.pop(name, None)
            unresolved.append({'name': name, 'source': source})
        else:
            env[name] = resolved
    return env, unresolved


def pod_view(text, kubeconfig):
    docs = load_stream(text)
    apis = []
    for d in docs:
        if d.get('kind') != 'Deployment':
            continue
        spec = (((d.get('spec') or {}).get('template') or {}).get('spec')) or {}
        for c in spec.get('containers') or []:
            if isinstance(c, dict) and c.get('name') == API_CONTAINER:
                apis.append((d, spec, c))
    if len(apis) != 1:
        raise ViewError(f'expected one Deployment with container {API_CONTAINER}, found {len(apis)}')
    dep, spec, container = apis[0]
    namespace = (dep.get('metadata') or {}).get('namespace')
    env, unresolved = container_env(docs, container, namespace)

    token = spec.get('automountServiceAccountToken')
    if token is None:
        sa_name = spec.get('serviceAccountName') or spec.get('serviceAccount') or 'default'
        sa = find(docs, 'ServiceAccount', sa_name, namespace)
        token = sa.get('automountServiceAccountToken') if sa is not None else None
    token = True if token is None else bool(token)

    home = env.get('HOME') or POD_HOME
    if env.get('KUBECONFIG'):
        kube_paths = [p for p in env['KUBECONFIG'].split(':') if p]
    else:
        kube_paths = [home.rstrip('/') + '/.kube/config']
    volumes = {v.get('name'): v for v in spec.get('volumes') or [] if isinstance(v, dict)}
    kube = None  # (pod path, secret name)
    for m in container.get('volumeMounts') or []:
        vol = volumes.get(m.get('name')) or {}
        secret = vol.get('secret')
        if not secret:
            continue
        mount = (m.get('mountPath') or '').rstrip('/')
        for p in kube_paths:
            key = None
            if m.get('subPath'):
                if p == mount:
                    key = m['subPath']
            elif p.startswith(mount + '/'):
                rel = p[len(mount) + 1:]
                items = secret.get('items')
                if items:
                    key = next((it.get('key') for it in items if it.get('path') == rel), None)
                else:
                    key = rel
            if key == 'config' and kube is None:
                kube = (p, secret.get('secretName'))
    kube_text = None
    if kubeconfig is not None:
        with open(kubeconfig, encoding='utf-8') as f:
            kube_text = f.read()
    elif kube is not None:
        obj = find(docs, 'Secret', kube[1], namespace)
        if obj is not None:
            kube_text = object_data(obj).get('config')
    kube_contexts = []
    kube_current = None
    if kube_text is not None:
        loaded = yaml.safe_load(kube_text) or {}
        kube_contexts = [str(c.get('name')) for c in loaded.get('contexts') or [] if isinstance(c, dict)]
        kube_current = loaded.get('current-context') or None

    config_text = None
    cm_vol = volumes.get(CONFIG_VOLUME) or {}
    cm_name = (cm_vol.get('configMap') or {}).get('name')
    if cm_name:
        cm = find(docs, 'ConfigMap', cm_name, namespace)
        if cm is not None and 'config.yaml' in (cm.get('data') or {}):
            config_text = cm['data']['config.yaml'] or ''
    config_path = None
    if config_text is not None:
        config_path = env.get('SKYPILOT_GLOBAL_CONFIG') or home.rstrip('/') + '/.sky/config.yaml'

    return {
        'env': env,
        'unresolved_env': unresolved,
        'token': token,
        'home': home,
        'kubeconfig_paths': kube_paths,
        'kubeconfig_path': kube[0] if kube is not None and kube_text is not None else None,
        'kubeconfig_secret': kube[1] if kube else None,
        'kubeconfig_text': kube_text,
        'kubeconfig_contexts': kube_contexts,
        'kubeconfig_current_context': kube_current,
        'config_path': config_path,
        'config_text': config_text,
    }


# ---------------------------------------------------------------- SkyPilot, per evaluation


def in_scratch(root, pod_path):
    return os.path.join(root, pod_path.lstrip('/'))


def write(root, pod_path, text):
    path = in_scratch(root, pod_path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def evaluate(view, root):
    """Runs in the forked child, with `root` standing for the pod's filesystem: the JSON view."""
    # pylint: disable=import-outside-toplevel
    from sky import clouds, skypilot_config
    from sky.adaptors import kubernetes as k8s_adaptor
    from sky.provision.kubernetes import utils as kubernetes_utils
    from sky.utils import common_utils, schemas, yaml_utils

    if view['kubeconfig_path'] is not None:
        write(root, view['kubeconfig_path'], view['kubeconfig_text'])
    if view['config_path'] is not None:
        write(root, view['config_path'], view['config_text'])
    env = dict(view['env'])
    env['HOME'] = in_scratch(root, view['home'])
    os.makedirs(env['HOME'], exist_ok=True)
    if 'KUBECONFIG' in env:
        env['KUBECONFIG'] = ':'.join(in_scratch(root, p) if p.startswith('/') else p
                                     for p in env['KUBECONFIG'].split(':'))
    if env.get('SKYPILOT_GLOBAL_CONFIG', '').startswith('/'):
        env['SKYPILOT_GLOBAL_CONFIG'] = in_scratch(root, env['SKYPILOT_GLOBAL_CONFIG'])
    env['IS_SKYPILOT_SERVER'] = '1'
    env['PATH'] = os.environ.get('PATH', '/usr/bin:/bin')
    os.environ.clear()
    os.environ.update(env)
    os.chdir(root)

    token = view['token']
    real_exists = os.path.exists
    os.path.exists = lambda p: token if os.fspath(p) == TOKEN_PATH else real_exists(p)
    kubernetes_utils.is_incluster_config_available = lambda: token

    out = {
        'global': None,
        'workspaces': {},
        'configured': {'global': None, 'workspaces': {}},
        'contexts': [],
        'current_context': None,
        'in_cluster_name': None,
        'token': token,
        'kubeconfig_mounted': view['kubeconfig_path'] is not None,
        'kubeconfig_path': view['kubeconfig_path'],
        'kubeconfig_secret': view['kubeconfig_secret'],
        'kubeconfig_paths': view['kubeconfig_paths'],
        'kubeconfig_contexts': view['kubeconfig_contexts'],
        'kubeconfig_current_context': view['kubeconfig_current_context'],
        'config_path': view['config_path'],
        'schema_error': None,
        'yaml_error': None,
        'load_error': None,
        'skipped': [],
        'env': {k: v for k, v in view['env'].items()
                if k.startswith('SKYPILOT_') or k in ('KUBECONFIG', 'HOME')},
        'unresolved_env': view['unresolved_env'],
    }

    if view['config_text'] is not None:
        try:
            parsed = yaml_utils.safe_load(view['config_text'])
        except yaml.YAMLError as e:
            parsed = None
            out['yaml_error'] = str(e)
        if parsed:
            try:
                common_utils.validate_schema(parsed, schemas.get_config_schema(),
                                             'Invalid config YAML: ', skip_none=False)
            except Exception as e:  # pylint: disable=broad-except
                out['schema_error'] = str(e)

    try:
        skypilot_config.reload_config()
    except Exception as e:  # pylint: disable=broad-except
        out['load_error'] = f'{type(e).__name__}: {e}'
        return out

    out['in_cluster_name'] = k8s_adaptor.in_cluster_context_name()
    out['contexts'] = kubernetes_utils.get_all_kube_context_names()
    out['current_context'] = kubernetes_utils.get_current_kube_config_context_name()

    scope = ['global']
    lines = []

    class Capture(logging.Handler):

        def emit(self, record):
            lines.append(record.getMessage())

    k8s_logger = logging.getLogger(clouds.kubernetes.__name__)
    k8s_logger.addHandler(Capture())
    original = clouds.Kubernetes._log_skipped_contexts_once.__func__  # pylint: disable=protected-access

    def log_skipped(cls, skipped):
        before = len(lines)
        original(cls, skipped)
        if skipped:
            found = [l for l in lines[before:] if 'not found in kubeconfig' in l]
            out['skipped'].append({'scope': scope[0], 'names': list(skipped),
                                   'log': found[0] if found else None})

    clouds.Kubernetes._log_skipped_contexts_once = classmethod(log_skipped)  # pylint: disable=protected-access

    def configured():
        value = skypilot_config.get_workspace_cloud('kubernetes').get('allowed_contexts', None)
        if value is None:
            value = skypilot_config.get_effective_region_config(
                cloud='kubernetes', region=None, keys=('allowed_contexts',), default_value=None)
        return value

    out['global'] = clouds.Kubernetes.existing_allowed_contexts()
    out['configured']['global'] = configured()
    workspaces = skypilot_config.get_nested(('workspaces',), None)
    if isinstance(workspaces, dict):
        for name, ws in workspaces.items():
            name = str(name)
            scope[0] = name
            with skypilot_config.local_active_workspace_ctx(name):
                out['workspaces'][name] = clouds.Kubernetes.existing_allowed_contexts()
                own = (isinstance(ws, dict) and isinstance(ws.get('kubernetes'), dict)
                       and 'allowed_contexts' in ws['kubernetes'])
                out['configured']['workspaces'][name] = {'value': configured(), 'own': own}
    return out


def run_forked(view, timeout):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        scratch = tempfile.mkdtemp(prefix='skypilot-view-')
        try:
            result = {'ok': evaluate(view, scratch)}
        except BaseException as e:  # pylint: disable=broad-except
            result = {'error': f'{type(e).__name__}: {e}'}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with os.fdopen(write_fd, 'w', encoding='utf-8') as f:
            json.dump(result, f, default=str)
        os._exit(0)  # pylint: disable=protected-access
    os.close(write_fd)

    def on_alarm(_sig, _frame):
        os.kill(pid, signal.SIGKILL)
        raise ViewError(f'SkyPilot did not answer within {timeout} s')

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout)
    try:
        with os.fdopen(read_fd, encoding='utf-8') as f:
            data = f.read()
        os.waitpid(pid, 0)
    finally:
        signal.alarm(0)
    result = json.loads(data)
    if 'error' in result:
        raise ViewError('SkyPilot raised ' + result['error'])
    return result['ok']


def main(argv):
    timeout = int(os.environ.get('SKYPILOT_VIEW_TIMEOUT', '60'))
    batch = '--batch' in argv
    kubeconfig = None
    rest = []
    args = [a for a in argv if a != '--batch']
    i = 0
    while i < len(args):
        if args[i] == '--kubeconfig':
            kubeconfig = args[i + 1]
            i += 2
        elif args[i].startswith('--kubeconfig='):
            kubeconfig = args[i].split('=', 1)[1]
            i += 1
        else:
            rest.append(args[i])
            i += 1
    if batch:
        jobs = [(j['stream'], j.get('kubeconfig')) for j in json.load(sys.stdin)]
    elif rest and rest[0] != '-':
        with open(rest[0], encoding='utf-8') as f:
            jobs = [(f.read(), kubeconfig)]
    else:
        jobs = [(sys.stdin.read(), kubeconfig)]

    # SkyPilot logs to stdout: keep stdout for the answer only.
    answer = os.fdopen(os.dup(1), 'w', encoding='utf-8')
    os.dup2(2, 1)
    views = [pod_view(text, kc) for text, kc in jobs]

    base = tempfile.mkdtemp(prefix='skypilot-view-import-')
    os.environ['HOME'] = base
    os.environ['IS_SKYPILOT_SERVER'] = '1'
    for k in [k for k in os.environ if k.startswith('SKYPILOT_') or k == 'KUBECONFIG']:
        del os.environ[k]
    os.environ['SKYPILOT_VIEW_TIMEOUT'] = str(timeout)
    # pylint: disable=import-outside-toplevel,unused-import
    import sky.clouds  # noqa: F401
    from sky.adaptors import kubernetes as k8s_adaptor
    from sky.utils import schemas
    _ = k8s_adaptor.kubernetes.config  # the lazy import, once, before forking
    schemas.get_config_schema()
    results = [run_forked(v, timeout) for v in views]
    shutil.rmtree(base, ignore_errors=True)
    json.dump(results if batch else results[0], answer, indent=1, sort_keys=True)
    answer.write('\n')
    answer.close()
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except ViewError as err:
        print(f'skypilot_view: {err}', file=sys.stderr)
        sys.exit(2)
