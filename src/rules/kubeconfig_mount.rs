//! Mounts the kubeconfig Secret into the API server the way the upstream chart does
//! (FACTS.md §3): volume `kube-config` from the Secret, read-only at `/root/.kube`; with SSH
//! node pools at `/var/skypilot/kubeconfig` with KUBECONFIG naming both files.

// Text from the stream or the settings in an error: control characters and direction marks
// shown escaped.
use crate::messages::escaped as e;
use k8s_openapi::api::core::v1::{EnvVar, SecretVolumeSource, Volume, VolumeMount};
use serde_json::{Map, Value};

use crate::model::Severity;
use crate::rules::change::{Change, FieldPath, Intent, Note, RuleId, RuleOutput, Seg, Text, keys};
use crate::stream::{DocRef, ManifestError, Manifests};
use crate::yaml::{Edit, EditError, Editor, NodeId, Tree};

use super::{
    RuleError,
    api_server::ApiServer,
    container_env::{ContainerEnv, EnvValue, Resolved},
};

pub const VOLUME_NAME: &str = "kube-config";
pub const MOUNT_PATH: &str = "/root/.kube";
pub const SSH_MOUNT_PATH: &str = "/var/skypilot/kubeconfig";
/// The variable naming the kubeconfig files SkyPilot (the kubernetes client) reads.
pub const KUBECONFIG_ENV: &str = "KUBECONFIG";
/// The home folder: `~/.kube/config` is the kubeconfig when KUBECONFIG is unset.
pub const HOME_ENV: &str = "HOME";
pub const SSH_KUBECONFIG: &str = "/root/.kube/config:/var/skypilot/kubeconfig/config";
pub const CHECKSUM_ANNOTATION: &str = "skyhelm.io/kubeconfig-sha256";
/// What [`MountError::PathTaken`] says of a mount whose volume the pod does not define.
const NO_SUCH_VOLUME: &str = "no such volume in the pod";

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error(
        "{at}: {} is already mounted from volume `{}` ({}); skyhelm would mount Secret `{}`{} there. Remove one of them, or name the Secret that volume uses (--secret-name, or the contexts file's secretName: `kubeconfig pack --secret-name`)", e(.target), e(.volume), e(.source_desc), e(.secret), e(.from)
    )]
    PathTaken { at: DocRef, target: String, volume: String, source_desc: String, secret: String, from: String },
    #[error(
        "{at}: volume `kube-config` comes from {}, not from Secret `{}`; rename that volume or set --secret-name", e(.source_desc), e(.secret)
    )]
    NameTaken { at: DocRef, source_desc: String, secret: String },
    #[error(
        "{at}: KUBECONFIG is set to `{}`, which does not include {}; SkyPilot would not read the mounted kubeconfig", e(.value), e(.wanted)
    )]
    KubeconfigEnv { at: DocRef, value: String, wanted: String },
    #[error(
        "{at}: KUBECONFIG comes from {}, which cannot be known at render time; SkyPilot reads the mounted kubeconfig only if it includes {}: set it with `value:`", e(.from), e(.wanted)
    )]
    KubeconfigEnvUnknown { at: DocRef, from: String, wanted: String },
    /// KUBECONFIG unset: the client reads `$HOME/.kube/config`, so HOME must be /root.
    #[error(
        "{at}: HOME is set to `{}` and KUBECONFIG is unset: SkyPilot reads {}/.kube/config, not the kubeconfig mounted at {}; set KUBECONFIG to {} (an `env` entry with `value:`)", e(.home), e(.home), e(.wanted), e(.wanted)
    )]
    HomeEnv { at: DocRef, home: String, wanted: String },
    /// `--no-mount`: the chart mounts a kubeconfig Secret other than the one checked.
    #[error(
        "{at}: the chart mounts Secret `{}` at {} (the kubeconfig SkyPilot reads), but the contexts were checked against Secret `{}` ({}); the Secret mounted must be the one checked. Set the chart's Secret (upstream: kubernetesCredentials.kubeconfigSecretName) to `{}`, or check `{}`", e(.mounted), e(.path), e(.checked), e(.from), e(.checked), e(.mounted)
    )]
    OtherSecret { at: DocRef, path: String, mounted: String, checked: String, from: String },
}

/// A Secret volume mounted where the API container reads its kubeconfig: KUBECONFIG's files
/// (`:`-separated), else `/root/.kube/config`; a mount of the file's folder (whole) or of the
/// file itself counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedSecret {
    pub secret: String,
    /// Where it is mounted.
    pub path: String,
    pub at: DocRef,
}

/// The kubeconfig Secret the pod spec mounts, whoever mounted it (the chart itself, e.g.
/// upstream `kubernetesCredentials.useKubeconfig: true`), or None: whether the pod has a
/// kubeconfig is read here, not from `--no-mount`. KUBECONFIG whose value is not known at
/// render time ([`ContainerEnv`]) is taken as unset.
pub fn mounted_secret(m: &Manifests, api: &ApiServer) -> Result<Option<MountedSecret>, RuleError> {
    let tree = m.tree(api.doc)?;
    let vols = volumes(tree, api.pod_spec);
    let mnts = mounts(tree, api.container);
    let files: Vec<String> = match ContainerEnv::read(m, api)?.get(KUBECONFIG_ENV)?.value {
        EnvValue::Known(v) if !v.is_empty() => v.split(':').filter(|p| !p.is_empty()).map(str::to_string).collect(),
        _ => vec![format!("{MOUNT_PATH}/config")],
    };
    for file in &files {
        let file = file.trim_end_matches('/');
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        for mt in &mnts {
            if !((mt.sub_path.is_none() && mt.path == dir) || mt.path == file) {
                continue;
            }
            if let Some(secret) = vols.iter().find(|v| v.name == mt.name).and_then(|v| v.secret.clone()) {
                return Ok(Some(MountedSecret {
                    secret,
                    path: mt.path.clone(),
                    at: m.doc_ref(api.doc, Some(mt.line)),
                }));
            }
        }
    }
    Ok(None)
}

/// What mounting needs to know about the API server.
pub struct MountSettings<'a> {
    pub secret_name: &'a str,
    /// Where the name came from (`--secret-name`, `secretName in the --contexts-file`, …); None:
    /// the default.
    pub secret_from: Option<&'a str>,
    /// sha256 of the kubeconfig file, as lowercase hex.
    pub kubeconfig_sha256: Option<&'a str>,
}

struct VolumeInfo {
    name: String,
    secret: Option<String>,
    has_items: bool,
    source: String,
}

struct MountInfo {
    name: String,
    path: String,
    sub_path: Option<String>,
    line: usize,
}

fn volumes(tree: &Tree, pod_spec: NodeId) -> Vec<VolumeInfo> {
    let Some(list) = tree.get(pod_spec, "volumes") else {
        return Vec::new();
    };
    tree.items(list)
        .iter()
        .map(|&v| {
            let secret_node = tree.get(v, "secret");
            let secret = secret_node.and_then(|s| tree.get_str(s, "secretName")).map(str::to_string);
            let source = match &secret {
                Some(s) => format!("Secret `{s}`"),
                None => tree
                    .entries(v)
                    .iter()
                    .filter_map(|&(k, _)| tree.str(k))
                    .find(|k| *k != "name")
                    .map_or_else(|| "no source".to_string(), |k| format!("a {k} volume")),
            };
            VolumeInfo {
                name: tree.get_str(v, "name").unwrap_or_default().to_string(),
                secret,
                has_items: secret_node.is_some_and(|s| tree.get(s, "items").is_some_and(|i| !tree.is_null(i))),
                source,
            }
        })
        .collect()
}

fn mounts(tree: &Tree, container: NodeId) -> Vec<MountInfo> {
    let Some(list) = tree.get(container, "volumeMounts") else {
        return Vec::new();
    };
    tree.items(list)
        .iter()
        .map(|&m| MountInfo {
            name: tree.get_str(m, "name").unwrap_or_default().to_string(),
            path: tree.get_str(m, "mountPath").unwrap_or_default().trim_end_matches('/').to_string(),
            sub_path: tree.get_str(m, "subPath").filter(|s| !s.is_empty()).map(str::to_string),
            line: tree.node(m).line(),
        })
        .collect()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Mounts the kubeconfig Secret (and, with SSH node pools, points KUBECONFIG at both files),
/// and annotates the pod template with the kubeconfig's checksum.
pub fn run(m: &Manifests, api: &ApiServer, s: &MountSettings) -> Result<RuleOutput, RuleError> {
    let pod = Pod::read(m, api, s)?;
    let mut out = Pending::default();
    pod.mount_secret(&mut out)?;
    pod.kubeconfig_env(&mut out)?;
    pod.annotate_checksum(&mut out)?;
    Ok(out.into_output(api))
}

/// What the rule reads of the API server's pod, and where it writes.
struct Pod<'m> {
    m: &'m Manifests<'m>,
    api: &'m ApiServer,
    s: &'m MountSettings<'m>,
    tree: &'m Tree<'m>,
    editor: Editor<'m>,
    vols: Vec<VolumeInfo>,
    mnts: Vec<MountInfo>,
    /// The container's KUBECONFIG ([`ContainerEnv`]).
    kubeconfig_env: Resolved,
    /// The container's HOME (where an unset KUBECONFIG points).
    home_env: Resolved,
    /// SSH node pools are set up (their Secret is mounted, or KUBECONFIG names their file).
    ssh_mode: bool,
    /// Where the kubeconfig Secret goes.
    target: &'static str,
}

/// The edits so far, with their reasons, paths and intents.
#[derive(Default)]
struct Pending {
    edits: Vec<Edit>,
    reasons: Vec<String>,
    paths: Vec<String>,
    intents: Vec<Intent>,
    /// Warnings.
    notes: Vec<String>,
}

impl Pending {
    fn push(&mut self, edits: Vec<Edit>, reason: String, path: String, intent: Intent) {
        self.edits.extend(edits);
        self.reasons.push(reason);
        self.paths.push(path);
        self.intents.push(intent);
    }

    /// One change of the API server's document, or none when nothing is edited.
    fn into_output(self, api: &ApiServer) -> RuleOutput {
        let changes = if self.edits.is_empty() {
            Vec::new()
        } else {
            vec![Change {
                doc: api.doc,
                resource: api.resource.clone(),
                rule: RuleId::KubeconfigMount,
                reasons: self.reasons.into_iter().map(Text::from).collect(),
                edits: self.edits.into(),
                paths: self.paths.into_iter().map(FieldPath::from).collect(),
                field: None,
                intents: self.intents,
            }]
        };
        let notes = self
            .notes
            .into_iter()
            .map(|message| Note { severity: Severity::Warning, rule: RuleId::KubeconfigMount, message })
            .collect();
        RuleOutput { changes, notes, ..RuleOutput::default() }
    }
}

impl<'m> Pod<'m> {
    fn read(m: &'m Manifests, api: &'m ApiServer, s: &'m MountSettings) -> Result<Pod<'m>, RuleError> {
        let tree = m.tree(api.doc)?;
        let vols = volumes(tree, api.pod_spec);
        let mnts = mounts(tree, api.container);
        let env = ContainerEnv::read(m, api)?;
        let (kubeconfig_env, home_env) = (env.get(KUBECONFIG_ENV)?, env.get(HOME_ENV)?);
        let ssh_secret = format!("{}-ssh-node-pools", api.fullname);
        let ssh_mode = vols.iter().any(|v| v.secret.as_deref() == Some(ssh_secret.as_str()))
            || kubeconfig_env.value == EnvValue::Known(SSH_KUBECONFIG.into());
        Ok(Pod {
            m,
            api,
            s,
            tree,
            editor: Editor::new(m.text(api.doc), tree),
            vols,
            mnts,
            kubeconfig_env,
            home_env,
            ssh_mode,
            target: if ssh_mode { SSH_MOUNT_PATH } else { MOUNT_PATH },
        })
    }

    fn at(&self, line: Option<usize>) -> DocRef {
        self.m.doc_ref(self.api.doc, line)
    }

    fn edit_err(&self, cause: EditError) -> RuleError {
        RuleError::from(ManifestError::Edit { at: self.at(None), cause })
    }

    /// Where the Secret's name came from, as messages add it after the name.
    fn from(&self) -> String {
        self.s.secret_from.map(|f| format!(" ({f})")).unwrap_or_default()
    }

    /// The volume comes from the kubeconfig Secret.
    fn ours(&self, v: &VolumeInfo) -> bool {
        v.secret.as_deref() == Some(self.s.secret_name)
    }

    /// The path of one of the API container's fields.
    fn in_container(&self, field: &str) -> Vec<Seg> {
        let mut p = keys("spec.template.spec.containers");
        p.push(Seg::Named(self.api.container_name.clone()));
        p.push(Seg::key(field));
        p
    }

    fn container_path(&self) -> String {
        format!("spec.template.spec.containers[{}]", self.api.container_name)
    }

    /// Mounts the Secret read-only at the target, unless a mount of it (whole, or its `config`
    /// as a subPath) is there already; refuses a target that another volume holds.
    fn mount_secret(&self, out: &mut Pending) -> Result<(), RuleError> {
        let target = self.target;
        let at_target = self.mnts.iter().find(|mt| {
            (mt.path == target && mt.sub_path.is_none())
                || (mt.path == format!("{target}/config") && mt.sub_path.as_deref() == Some("config"))
        });
        if let Some(mt) = at_target {
            let vol = self.vols.iter().find(|v| v.name == mt.name);
            if !vol.is_some_and(|v| self.ours(v)) {
                return Err(MountError::PathTaken {
                    at: self.at(Some(mt.line)),
                    target: target.into(),
                    volume: mt.name.clone(),
                    source_desc: vol.map_or_else(|| NO_SUCH_VOLUME.to_string(), |v| v.source.clone()),
                    secret: self.s.secret_name.into(),
                    from: self.from(),
                }
                .into());
            }
            return Ok(());
        }
        if let Some(mt) = self.mnts.iter().find(|mt| mt.path == target) {
            let vol = self.vols.iter().find(|v| v.name == mt.name);
            return Err(MountError::PathTaken {
                at: self.at(Some(mt.line)),
                target: target.into(),
                volume: mt.name.clone(),
                source_desc: vol.map_or_else(
                    || NO_SUCH_VOLUME.to_string(),
                    |v| format!("{}, subPath {}", v.source, mt.sub_path.as_deref().unwrap_or("")),
                ),
                secret: self.s.secret_name.into(),
                from: self.from(),
            }
            .into());
        }
        let volume_name = self.secret_volume(out)?;
        let mount = VolumeMount {
            name: volume_name.clone(),
            mount_path: target.into(),
            read_only: Some(true),
            ..Default::default()
        };
        out.push(
            self.editor
                .push_to_list(self.api.container, "volumeMounts", &to_value(&mount))
                .map_err(|e| self.edit_err(e))?,
            format!("mounted volume `{volume_name}` read-only at {target} in container `{}`", self.api.container_name),
            format!("{}.volumeMounts", self.container_path()),
            Intent::Append { path: self.in_container("volumeMounts"), items: vec![to_value(&mount)] },
        );
        Ok(())
    }

    /// The name of the Secret's volume to mount: `kube-config` when it is the Secret's (and
    /// refused when it is something else), else another volume of the whole Secret, else a
    /// new `kube-config` volume.
    fn secret_volume(&self, out: &mut Pending) -> Result<String, RuleError> {
        match self.vols.iter().find(|v| v.name == VOLUME_NAME) {
            Some(v) if self.ours(v) => return Ok(VOLUME_NAME.to_string()),
            Some(v) => {
                return Err(MountError::NameTaken {
                    at: self.at(None),
                    source_desc: v.source.clone(),
                    secret: self.s.secret_name.into(),
                }
                .into());
            }
            None => {}
        }
        if let Some(v) = self.vols.iter().find(|v| self.ours(v) && !v.has_items) {
            return Ok(v.name.clone());
        }
        let volume = Volume {
            name: VOLUME_NAME.into(),
            secret: Some(SecretVolumeSource { secret_name: Some(self.s.secret_name.into()), ..Default::default() }),
            ..Default::default()
        };
        out.push(
            self.editor.push_to_list(self.api.pod_spec, "volumes", &to_value(&volume)).map_err(|e| self.edit_err(e))?,
            format!("added volume `{VOLUME_NAME}` from Secret `{}`", self.s.secret_name),
            "spec.template.spec.volumes".into(),
            Intent::Append { path: keys("spec.template.spec.volumes"), items: vec![to_value(&volume)] },
        );
        Ok(VOLUME_NAME.to_string())
    }

    /// KUBECONFIG must name the mounted file: with SSH node pools it is set to both files when
    /// unset; a value that leaves the mounted file out is refused.
    fn kubeconfig_env(&self, out: &mut Pending) -> Result<(), RuleError> {
        let (wanted, also) = if self.ssh_mode {
            (format!("{SSH_MOUNT_PATH}/config"), None)
        } else {
            // KUBECONFIG replaces the default ~/.kube/config: it must name the mounted file.
            (format!("{MOUNT_PATH}/config"), Some("~/.kube/config"))
        };
        let line = self.kubeconfig_env.entry.map(|e| self.tree.node(e).line());
        match &self.kubeconfig_env.value {
            // An `env` entry overrides what an `envFrom` source not in the stream may set.
            EnvValue::Unset | EnvValue::Unknown { certain: false, .. } if self.ssh_mode => {
                let env =
                    EnvVar { name: KUBECONFIG_ENV.into(), value: Some(SSH_KUBECONFIG.into()), ..Default::default() };
                out.push(
                    self.editor
                        .push_to_list(self.api.container, "env", &to_value(&env))
                        .map_err(|e| self.edit_err(e))?,
                    format!("set KUBECONFIG={SSH_KUBECONFIG} (SSH node pools keep /root/.kube on the state volume)"),
                    format!("{}.env", self.container_path()),
                    Intent::Append { path: self.in_container("env"), items: vec![to_value(&env)] },
                );
                Ok(())
            }
            EnvValue::Unset => match &self.home_env.value {
                EnvValue::Known(home) if home.trim_end_matches('/') != "/root" => {
                    let line = self.home_env.entry.map(|e| self.tree.node(e).line());
                    let home = crate::messages::sanitize(home, &[]);
                    Err(MountError::HomeEnv { at: self.at(line), home, wanted }.into())
                }
                _ => Ok(()),
            },
            EnvValue::Known(value) => {
                // An empty KUBECONFIG is not unset: the kubernetes client then reads the path "".
                if value.split(':').any(|p| p == wanted || Some(p) == also) {
                    return Ok(());
                }
                Err(MountError::KubeconfigEnv { at: self.at(line), value: value.clone(), wanted }.into())
            }
            EnvValue::Unknown { source, certain: false } => {
                out.notes.push(format!("KUBECONFIG may be set by {source}: if it is, it must include {wanted}, or SkyPilot will not read the mounted kubeconfig"));
                Ok(())
            }
            EnvValue::Unknown { source, certain: true } => {
                Err(MountError::KubeconfigEnvUnknown { at: self.at(line), from: source.clone(), wanted }.into())
            }
        }
    }

    /// Annotates the pod template with the kubeconfig's sha256, so that a changed kubeconfig
    /// rolls the pods.
    fn annotate_checksum(&self, out: &mut Pending) -> Result<(), RuleError> {
        let Some(sum) = self.s.kubeconfig_sha256 else { return Ok(()) };
        let patch = Map::from_iter([(
            "metadata".to_string(),
            serde_json::json!({ "annotations": { CHECKSUM_ANNOTATION: sum } }),
        )]);
        let ann = self.editor.merge(self.api.template, &patch).map_err(|e| self.edit_err(e))?;
        if !ann.is_empty() {
            let mut path = keys("spec.template.metadata.annotations");
            path.push(Seg::key(CHECKSUM_ANNOTATION));
            out.push(
                ann,
                format!("set pod annotation {CHECKSUM_ANNOTATION} so that a changed kubeconfig rolls the pods"),
                "spec.template.metadata.annotations".into(),
                Intent::Set { path, value: Value::String(sum.to_string()).into() },
            );
        }
        Ok(())
    }
}
