//! What the API container's environment says about one variable, resolved as the kubelet builds
//! it (`makeEnvironmentVariables`): first the `envFrom` sources in order (a later source
//! overrides an earlier one; keys get the source's `prefix`), then the `env` entries in order,
//! each overriding what came before. A `value` is expanded for `$(VAR)` against what is
//! defined at that point (`$$` is a literal `$`; a reference to nothing stays as written);
//! `valueFrom` is read from the stream where it can be (a ConfigMap in the stream).
//!
//! Before → after, for `SKYPILOT_IN_CLUSTER_CONTEXT_NAME`:
//!
//! ```text
//! envFrom: [{configMapRef: {name: ctx}}]   + ConfigMap ctx {data: {SKYPILOT_IN_CLUSTER_CONTEXT_NAME: home}}
//!                                          → Known("home")
//! envFrom: [{configMapRef: {name: ctx}}]   (ctx not in the stream)
//!                                          → Unknown { source: "`envFrom` ConfigMap `ctx` (not in the stream)", certain: false }
//! env: [{name: BASE, value: home}, {name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME, value: "$(BASE)-$$x"}]
//!                                          → Known("home-$x")
//! ```
//!
//! A name the rules read that `env` writes twice is recorded as a duplicate read (the pipeline
//! refuses it: `kubectl apply` merges `env` by name).

use std::collections::HashMap;

use crate::policy::contexts::shown;
use crate::stream::{InNamespace, ManifestError, Manifests};
use crate::yaml::{NodeId, Scalar11, Tree};

use super::api_server::ApiServer;

/// One variable's value in the running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// Nothing sets it.
    Unset,
    /// The value, as the container gets it.
    Known(String),
    /// Its value cannot be known at render time. `source` says why (safe to show); `certain`:
    /// it is set for sure (false: a source not in the stream may set it, or may not).
    Unknown { source: String, certain: bool },
}

impl EnvValue {
    /// The value when known and not empty (SkyPilot reads an empty value as unset).
    pub fn non_empty(&self) -> Option<&str> {
        match self {
            EnvValue::Known(v) if !v.is_empty() => Some(v),
            _ => None,
        }
    }
}

/// A variable of the container: its value and the last `env` entry that names it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub value: EnvValue,
    /// The last `env` entry named so (the one the kubelet uses), a node of the Deployment's tree.
    pub entry: Option<NodeId>,
}

/// What one `envFrom` source gives.
enum FromData {
    /// A ConfigMap in the stream: its `data` (None for a value that is not a string, or a key
    /// written twice).
    Known(Vec<(String, Option<String>)>),
    /// A Secret in the stream: its keys (the values are not read).
    SecretKeys(Vec<String>),
    /// Not in the stream: any key may be there. The text says where it is (`not in the stream`,
    /// or [`absent_why`]'s reason).
    External(String),
}

struct FromSource {
    kind: &'static str,
    name: String,
    prefix: String,
    data: FromData,
}

/// The API container's environment, ready to answer for any variable.
pub struct ContainerEnv<'m> {
    m: &'m Manifests<'m>,
    tree: &'m Tree<'m>,
    container: NodeId,
    namespace: Option<String>,
    from: Vec<FromSource>,
}

impl<'m> ContainerEnv<'m> {
    pub fn read(m: &'m Manifests<'m>, api: &ApiServer) -> Result<ContainerEnv<'m>, ManifestError> {
        let tree = m.tree(api.doc)?;
        let mut env = ContainerEnv {
            m,
            tree,
            container: api.container,
            namespace: api.resource.namespace.clone(),
            from: Vec::new(),
        };
        let list = tree.get(api.container, "envFrom").map(|l| tree.items(l).to_vec()).unwrap_or_default();
        for item in list {
            let prefix = tree.get_str(item, "prefix").unwrap_or("").to_string();
            let (kind, r) = match (tree.get(item, "configMapRef"), tree.get(item, "secretRef")) {
                (Some(r), _) => ("ConfigMap", r),
                (None, Some(r)) => ("Secret", r),
                (None, None) => continue,
            };
            let name = tree.get_str(r, "name").unwrap_or("").to_string();
            let data = env.source_data(kind, &name)?;
            env.from.push(FromSource { kind, name, prefix, data });
        }
        Ok(env)
    }

    fn find(&self, kind: &str, name: &str) -> Result<Option<&'m Tree<'m>>, ManifestError> {
        match self.m.find(kind, name, InNamespace::Exactly(self.namespace.as_deref()))? {
            Some(doc) => Ok(Some(self.m.tree(doc)?)),
            None => Ok(None),
        }
    }

    fn source_data(&self, kind: &str, name: &str) -> Result<FromData, ManifestError> {
        let Some(t) = self.find(kind, name)? else {
            return Ok(FromData::External(absent_why(self.m, kind, name, self.namespace.as_deref())?));
        };
        let Some(root) = t.root() else { return Ok(FromData::Known(Vec::new())) };
        if kind == "Secret" {
            let mut keys = Vec::new();
            for field in ["data", "stringData"] {
                for &(k, _) in t.get(root, field).map(|d| t.entries(d)).unwrap_or_default() {
                    keys.extend(t.str(k).map(str::to_string));
                }
            }
            return Ok(FromData::SecretKeys(keys));
        }
        Ok(FromData::Known(config_map_data(t, root)))
    }

    /// What the container's environment says about `name`.
    pub fn get(&self, name: &str) -> Result<Resolved, ManifestError> {
        let tree = self.tree;
        let env = tree.get(self.container, "env");
        let entries: &[NodeId] = env.map_or(&[], |l| tree.items(l));
        // A name written nowhere in the document names no entry: its 100,000 entries are not
        // read one by one for it, only checked (once) for a `name` written twice, which the scan
        // below records too, and the pipeline refuses.
        if !tree.mentions(name) {
            if let Some(list) = env {
                tree.record_twice_in_items(list, "name");
            }
            return Ok(Resolved { value: self.env_from_says(name), entry: None });
        }
        // The text first (a container of 100,000 entries is asked a few names): only an entry
        // whose name's text is `name` can be named `name` (as a string).
        let named: Vec<NodeId> = entries
            .iter()
            .copied()
            .filter(|&e| {
                let n = tree.get(e, "name");
                n.and_then(|n| tree.raw(n)) == Some(name) && n.and_then(|n| tree.str(n)) == Some(name)
            })
            .collect();
        if let [first, .., last] = named.as_slice()
            && let (Some(a), Some(b)) = (tree.get(*first, "name"), tree.get(*last, "name"))
        {
            tree.record_duplicate(a, b);
        }
        // The kubelet's tmpEnv after envFrom, as `env` entries override it one by one.
        let mut defined: HashMap<String, EnvValue> = HashMap::new();
        let last = named.last().copied();
        for &e in entries.iter().take_while(|_| last.is_some()) {
            let Some(n) = tree.get_str(e, "name") else { continue };
            if let Some(v) = self.entry_value(e, n, &defined)? {
                defined.insert(n.to_string(), v);
            }
            if Some(e) == last {
                break;
            }
        }
        let value = match defined.remove(name) {
            Some(v) => v,
            None => self.env_from_says(name),
        };
        Ok(Resolved { value, entry: last })
    }

    /// One `env` entry's value; None when an optional reference is missing (the kubelet then
    /// leaves what was there).
    fn entry_value(
        &self,
        e: NodeId,
        n: &str,
        defined: &HashMap<String, EnvValue>,
    ) -> Result<Option<EnvValue>, ManifestError> {
        let tree = self.tree;
        let value = tree.get(e, "value").filter(|&v| !tree.is_null(v));
        if let Some(v) = value {
            let Some(text) = tree.str(v) else {
                return Ok(Some(unknown(
                    format!("`env` entry `{}` has a `value` that is not a string", shown(n)),
                    true,
                )));
            };
            if !text.is_empty() {
                let lookup = |var: &str| defined.get(var).cloned().unwrap_or_else(|| self.env_from_says(var));
                return Ok(Some(expand(text, n, &lookup)));
            }
        }
        match tree.get(e, "valueFrom") {
            Some(vf) => self.value_from(vf),
            None => Ok(Some(EnvValue::Known(String::new()))),
        }
    }

    fn value_from(&self, vf: NodeId) -> Result<Option<EnvValue>, ManifestError> {
        let tree = self.tree;
        let optional = |r: NodeId| tree.get(r, "optional").and_then(|o| tree.scalar(o)) == Some(Scalar11::Bool(true));
        // A `name` or `key` that is not a string: Kubernetes rejects the Deployment.
        let name_key = |r: NodeId, what: &str| {
            let text = |k| tree.get(r, k).map_or(Some(""), |v| tree.str(v));
            match (text("name"), text("key")) {
                (Some(n), Some(k)) => Ok((n.to_string(), k.to_string())),
                _ => Err(unknown(format!("`valueFrom.{what}` with a `name` or `key` that is not a string"), true)),
            }
        };
        if let Some(r) = tree.get(vf, "configMapKeyRef") {
            let (name, key) = match name_key(r, "configMapKeyRef") {
                Ok(nk) => nk,
                Err(e) => return Ok(Some(e)),
            };
            let Some(t) = self.find("ConfigMap", &name)? else {
                let why = absent_why(self.m, "ConfigMap", &name, self.namespace.as_deref())?;
                return Ok(Some(unknown(
                    format!("`valueFrom.configMapKeyRef` (ConfigMap `{}`, key `{}`, {why})", shown(&name), shown(&key)),
                    !optional(r),
                )));
            };
            let data = t.root().map(|root| config_map_data(t, root)).unwrap_or_default();
            return Ok(match data.into_iter().rfind(|(k, _)| *k == key) {
                Some((_, Some(v))) => Some(EnvValue::Known(v)),
                Some((_, None)) => Some(unknown(bad_key(&name, &key), true)),
                None if optional(r) => None,
                None => Some(unknown(
                    format!(
                        "`valueFrom.configMapKeyRef` (ConfigMap `{}` has no key `{}`: the container would not start)",
                        shown(&name),
                        shown(&key)
                    ),
                    true,
                )),
            });
        }
        if let Some(r) = tree.get(vf, "secretKeyRef") {
            let (name, key) = match name_key(r, "secretKeyRef") {
                Ok(nk) => nk,
                Err(e) => return Ok(Some(e)),
            };
            return Ok(Some(unknown(
                format!("`valueFrom.secretKeyRef` (Secret `{}`, key `{}`)", shown(&name), shown(&key)),
                !optional(r),
            )));
        }
        if let Some(r) = tree.get(vf, "fieldRef") {
            let path = tree.get_str(r, "fieldPath").unwrap_or("");
            // The pod runs in its Deployment's namespace.
            if let (Some(ns), "metadata.namespace") = (&self.namespace, path) {
                return Ok(Some(EnvValue::Known(ns.clone())));
            }
            return Ok(Some(unknown(format!("`valueFrom.fieldRef` (`{}`)", shown(path)), true)));
        }
        if tree.get(vf, "resourceFieldRef").is_some() {
            return Ok(Some(unknown("`valueFrom.resourceFieldRef`".into(), true)));
        }
        Ok(Some(unknown("`valueFrom`".into(), true)))
    }

    /// What the `envFrom` sources say about `var`: the last source that has it decides; a source
    /// not in the stream may have it.
    fn env_from_says(&self, var: &str) -> EnvValue {
        let mut maybe: Option<String> = None;
        for s in self.from.iter().rev() {
            let Some(key) = var.strip_prefix(s.prefix.as_str()) else { continue };
            let prefixed =
                if s.prefix.is_empty() { String::new() } else { format!(" with prefix `{}`", shown(&s.prefix)) };
            let found = match &s.data {
                FromData::Known(data) => match data.iter().rfind(|(k, _)| k == key) {
                    Some((_, Some(v))) => EnvValue::Known(v.clone()),
                    Some((_, None)) => unknown(bad_key(&s.name, key), true),
                    None => continue,
                },
                FromData::SecretKeys(keys) if keys.iter().any(|k| k == key) => {
                    unknown(format!("`envFrom` Secret `{}`{prefixed} (key `{}`)", shown(&s.name), shown(key)), true)
                }
                FromData::SecretKeys(_) => continue,
                FromData::External(why) => {
                    maybe.get_or_insert_with(|| format!("`envFrom` {} `{}`{prefixed} ({why})", s.kind, shown(&s.name)));
                    continue;
                }
            };
            return match maybe {
                Some(source) => unknown(source, true),
                None => found,
            };
        }
        match maybe {
            Some(source) => unknown(source, false),
            None => EnvValue::Unset,
        }
    }
}

/// Why the `kind` `name` the pod in `namespace` refers to was not found in the stream: `not in
/// the stream`, or, when the stream has it without a namespace and post-render was not told the
/// release namespace (Helm puts such a document there, and passes a post-renderer no release
/// namespace), that it may be elsewhere and how to say it is not. Taking the Deployment's
/// namespace for the release namespace would be a guess; naming the flag makes it a fact.
pub fn absent_why(m: &Manifests, kind: &str, name: &str, namespace: Option<&str>) -> Result<String, ManifestError> {
    Ok(match namespace {
        Some(ns) if m.find(kind, name, InNamespace::Exactly(None))?.is_some() => format!(
            "in the stream without a namespace, so in the release namespace, which post-render is not told; if that is `{0}`, pass --release-namespace={0} (with Helm: --post-renderer-args=--release-namespace={0})",
            shown(ns)
        ),
        _ => "not in the stream".to_string(),
    })
}

fn unknown(source: String, certain: bool) -> EnvValue {
    EnvValue::Unknown { source, certain }
}

fn bad_key(cm: &str, key: &str) -> String {
    format!("ConfigMap `{}` (key `{}` is written twice or is not a string)", shown(cm), shown(key))
}

/// A ConfigMap's `data`: each key with its value (None when not a string, or written twice).
fn config_map_data(t: &Tree, root: NodeId) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for &(k, v) in t.get(root, "data").map(|d| t.entries(d)).unwrap_or_default() {
        let Some(key) = t.str(k) else { continue };
        let value = t.str(v).map(str::to_string);
        match out.iter_mut().find(|(seen, _)| seen == key) {
            Some(entry) => entry.1 = None,
            None => out.push((key.to_string(), value)),
        }
    }
    out
}

/// A Service link variable the kubelet may add (`<SVC>_SERVICE_HOST`, `<SVC>_PORT_80_TCP`, …):
/// which Services exist in the namespace is not known at render time.
fn may_be_service_link(var: &str) -> bool {
    var.ends_with("_SERVICE_HOST") || var.contains("_SERVICE_PORT") || var.ends_with("_PORT") || var.contains("_PORT_")
}

/// The kubelet's `expansion.Expand` of entry `entry`'s value `input`: `$(VAR)` is replaced by
/// VAR's value when defined (else kept), `$$` is `$`, any other `$` is kept.
fn expand(input: &str, entry: &str, lookup: &dyn Fn(&str) -> EnvValue) -> EnvValue {
    let b = input.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let (mut checkpoint, mut cursor) = (0, 0);
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.extend_from_slice(&b[checkpoint..cursor]);
            let rest = &b[cursor + 1..];
            let advance = match rest[0] {
                b'$' => {
                    out.push(b'$');
                    1
                }
                b'(' => match rest.iter().position(|&c| c == b')') {
                    Some(close) => {
                        let var = String::from_utf8_lossy(&rest[1..close]);
                        match lookup(&var) {
                            EnvValue::Known(v) => out.extend_from_slice(v.as_bytes()),
                            EnvValue::Unknown { source, .. } => {
                                return unknown(
                                    format!(
                                        "`env` entry `{}` refers to `$({})`, which comes from {source}",
                                        shown(entry),
                                        shown(&var)
                                    ),
                                    true,
                                );
                            }
                            EnvValue::Unset if may_be_service_link(&var) => {
                                return unknown(
                                    format!(
                                        "`env` entry `{}` refers to `$({})`, which may be a Service link variable (the Services of the namespace are not known at render time)",
                                        shown(entry),
                                        shown(&var)
                                    ),
                                    true,
                                );
                            }
                            EnvValue::Unset => out.extend_from_slice(format!("$({var})").as_bytes()),
                        }
                        close + 1
                    }
                    None => {
                        out.extend_from_slice(b"$(");
                        1
                    }
                },
                // Go appends `string(byte)`: a byte above 0x7F becomes the character U+0080..U+00FF.
                other => {
                    out.push(b'$');
                    out.extend_from_slice(char::from(other).to_string().as_bytes());
                    1
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.extend_from_slice(&b[checkpoint.min(b.len())..]);
    match String::from_utf8(out) {
        Ok(s) => EnvValue::Known(s),
        Err(_) => unknown(
            format!(
                "`env` entry `{}` has a `$` before a non-ASCII character, which the kubelet turns into bytes that are not UTF-8",
                shown(entry)
            ),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Manifests;
    use crate::yaml::Limits;

    fn deployment(container: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: sky-api-server, namespace: ns}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: skypilot-api\n{}",
            container.lines().map(|l| format!("        {l}\n")).collect::<String>()
        )
    }

    /// (container YAML, other documents, variable, expected value)
    fn check(container: &str, others: &str, var: &str, want: &EnvValue) {
        let text = format!("{}---\n{others}", deployment(container));
        let m = Manifests::new(&text, Limits::default(), None);
        let api = ApiServer::locate(&m, None, "skypilot-api").expect("api");
        let env = ContainerEnv::read(&m, &api).expect("env");
        assert_eq!(&env.get(var).expect("get").value, want, "{container}\n{others}");
    }

    fn known(v: &str) -> EnvValue {
        EnvValue::Known(v.into())
    }

    const CM: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ctx, namespace: ns}\ndata: {X: from-cm, P_X: prefixed}\n";
    const SECRET: &str =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: sec, namespace: ns}\nstringData: {X: hidden}\n";

    #[test]
    fn env_entries_and_expansion_as_the_kubelet() {
        let cases: &[(&str, &str)] = &[
            ("env: [{name: X, value: a}]", "a"),
            ("env: [{name: X, value: a}, {name: X, value: b}]", "b"),
            ("env: [{name: X}]", ""),
            ("env: [{name: B, value: home}, {name: X, value: '$(B)-1'}]", "home-1"),
            ("env: [{name: X, value: '$(B)'}, {name: B, value: home}]", "$(B)"),
            ("env: [{name: X, value: '$$(B)'}, {name: B, value: home}]", "$(B)"),
            ("env: [{name: B, value: home}, {name: X, value: '$$$(B)'}]", "$home"),
            ("env: [{name: X, value: 'a$b$'}]", "a$b$"),
            ("env: [{name: X, value: '$(B'}]", "$(B"),
            ("env: [{name: X, value: '$(X)'}]", "$(X)"),
        ];
        for (c, want) in cases {
            check(c, "", "X", &known(want));
        }
    }

    #[test]
    fn env_from_in_the_stream_and_not() {
        check("envFrom: [{configMapRef: {name: ctx}}]", CM, "X", &known("from-cm"));
        check("envFrom: [{prefix: P_, configMapRef: {name: ctx}}]", CM, "P_X", &known("from-cm"));
        check("envFrom: [{prefix: P_, configMapRef: {name: ctx}}]", CM, "X", &EnvValue::Unset);
        check("envFrom: [{configMapRef: {name: ctx}}]\nenv: [{name: X, value: mine}]", CM, "X", &known("mine"));
        check("envFrom: [{configMapRef: {name: ctx}}]\nenv: [{name: Z, value: '$(X)'}]", CM, "Z", &known("from-cm"));
        let ext =
            EnvValue::Unknown { source: "`envFrom` ConfigMap `other` (not in the stream)".into(), certain: false };
        check("envFrom: [{configMapRef: {name: other}}]", CM, "X", &ext);
        check("envFrom: [{configMapRef: {name: other}}]\nenv: [{name: X, value: v}]", CM, "X", &known("v"));
        let over =
            EnvValue::Unknown { source: "`envFrom` ConfigMap `other` (not in the stream)".into(), certain: true };
        check("envFrom: [{configMapRef: {name: ctx}}, {configMapRef: {name: other}}]", CM, "X", &over);
        check("envFrom: [{configMapRef: {name: other}}, {configMapRef: {name: ctx}}]", CM, "X", &known("from-cm"));
        check("envFrom: [{prefix: Q_, configMapRef: {name: other}}]", CM, "X", &EnvValue::Unset);
        let sec = EnvValue::Unknown { source: "`envFrom` Secret `sec` (key `X`)".into(), certain: true };
        check("envFrom: [{secretRef: {name: sec}}]", SECRET, "X", &sec);
        check("envFrom: [{secretRef: {name: sec}}]", SECRET, "Z", &EnvValue::Unset);
    }

    #[test]
    fn value_from() {
        check("env: [{name: X, valueFrom: {configMapKeyRef: {name: ctx, key: P_X}}}]", CM, "X", &known("prefixed"));
        check(
            "envFrom: [{configMapRef: {name: ctx}}]\nenv: [{name: X, valueFrom: {configMapKeyRef: {name: ctx, key: absent, optional: true}}}]",
            CM,
            "X",
            &known("from-cm"),
        );
        let secret =
            EnvValue::Unknown { source: "`valueFrom.secretKeyRef` (Secret `s`, key `k`)".into(), certain: true };
        check("env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]", "", "X", &secret);
        let EnvValue::Unknown { source, certain: true } = ({
            let text = format!(
                "{}---\n",
                deployment(
                    "env: [{name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: X, value: 'a-$(B)'}]"
                )
            );
            let m = Manifests::new(&text, Limits::default(), None);
            let api = ApiServer::locate(&m, None, "skypilot-api").expect("api");
            ContainerEnv::read(&m, &api).expect("env").get("X").expect("get").value
        }) else {
            panic!("a reference to a fieldRef is unknown")
        };
        assert!(
            source.contains("refers to `$(B)`, which comes from `valueFrom.fieldRef` (`metadata.name`)"),
            "{source}"
        );
        check("env: [{name: X, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]", "", "X", &known("ns"));
        let link = "env: [{name: X, value: '$(DB_SERVICE_HOST)'}]";
        let text = format!("{}---\n", deployment(link));
        let m = Manifests::new(&text, Limits::default(), None);
        let api = ApiServer::locate(&m, None, "skypilot-api").expect("api");
        assert!(matches!(
            ContainerEnv::read(&m, &api).expect("env").get("X").expect("get").value,
            EnvValue::Unknown { certain: true, .. }
        ));
    }
}
