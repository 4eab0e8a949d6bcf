//! Mounts the kubeconfig Secret into the API server the way the upstream chart does
//! (FACTS.md §3): volume `kube-config` from the Secret, read-only at `/root/.kube`; with SSH
//! node pools at `/var/skypilot/kubeconfig` with KUBECONFIG naming both files.

use k8s_openapi::api::core::v1::{EnvVar, SecretVolumeSource, Volume, VolumeMount};
use serde_json::{Map, Value};

use crate::rules::change::{Change, Intent, RuleId, RuleOutput, Seg, keys};
use crate::stream::{DocRef, Manifests};
use crate::yaml::{Edit, Editor, NodeId, Tree};

use super::{
    RuleError,
    api_server::{ApiServer, env_value},
};

pub const VOLUME_NAME: &str = "kube-config";
pub const MOUNT_PATH: &str = "/root/.kube";
pub const SSH_MOUNT_PATH: &str = "/var/skypilot/kubeconfig";
pub const SSH_KUBECONFIG: &str = "/root/.kube/config:/var/skypilot/kubeconfig/config";
pub const CHECKSUM_ANNOTATION: &str = "skyhelm.io/kubeconfig-sha256";

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error(
        "{at}: {target} is already mounted from volume `{volume}` ({source_desc}); skyhelm would mount Secret `{secret}` there. Remove one of them, or set --secret-name to the Secret that volume uses"
    )]
    PathTaken { at: DocRef, target: String, volume: String, source_desc: String, secret: String },
    #[error(
        "{at}: volume `kube-config` comes from {source_desc}, not from Secret `{secret}`; rename that volume or set --secret-name"
    )]
    NameTaken { at: DocRef, source_desc: String, secret: String },
    #[error(
        "{at}: KUBECONFIG is set to `{value}`, which does not include {wanted}; SkyPilot would not read the mounted kubeconfig"
    )]
    KubeconfigEnv { at: DocRef, value: String, wanted: String },
}

/// What mounting needs to know about the API server.
pub struct MountSettings<'a> {
    pub secret_name: &'a str,
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
            line: tree.node(m).line,
        })
        .collect()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn run(m: &Manifests, api: &ApiServer, s: &MountSettings) -> Result<RuleOutput, RuleError> {
    let tree = m.tree(api.doc)?;
    let text = m.text(api.doc);
    let editor = Editor::new(text, tree);
    let at = |line: Option<usize>| m.doc_ref(api.doc, line);
    let edit_err = |cause| RuleError::from(crate::stream::ManifestError::Edit { at: at(None), cause });

    let vols = volumes(tree, api.pod_spec);
    let mnts = mounts(tree, api.container);
    let kubeconfig_env = env_value(tree, api.container, "KUBECONFIG");
    let ssh_secret = format!("{}-ssh-node-pools", api.fullname);
    let ssh_mode = vols.iter().any(|v| v.secret.as_deref() == Some(ssh_secret.as_str()))
        || kubeconfig_env.is_some_and(|(_, v)| v == Some(SSH_KUBECONFIG));
    let target = if ssh_mode { SSH_MOUNT_PATH } else { MOUNT_PATH };
    let ours = |v: &VolumeInfo| v.secret.as_deref() == Some(s.secret_name);

    let mut edits: Vec<Edit> = Vec::new();
    let mut reasons = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut intents: Vec<Intent> = Vec::new();
    let container_path = format!("spec.template.spec.containers[{}]", api.container_name);
    let in_container = |field: &str| {
        let mut p = keys("spec.template.spec.containers");
        p.push(Seg::Named(api.container_name.clone()));
        p.push(Seg::key(field));
        p
    };

    let at_target = mnts.iter().find(|mt| {
        (mt.path == target && mt.sub_path.is_none())
            || (mt.path == format!("{target}/config") && mt.sub_path.as_deref() == Some("config"))
    });
    match at_target {
        Some(mt) => {
            let vol = vols.iter().find(|v| v.name == mt.name);
            if !vol.is_some_and(ours) {
                return Err(MountError::PathTaken {
                    at: at(Some(mt.line)),
                    target: target.into(),
                    volume: mt.name.clone(),
                    source_desc: vol.map_or_else(|| "no such volume in the pod".to_string(), |v| v.source.clone()),
                    secret: s.secret_name.into(),
                }
                .into());
            }
        }
        None => {
            if let Some(mt) = mnts.iter().find(|mt| mt.path == target) {
                let vol = vols.iter().find(|v| v.name == mt.name);
                return Err(MountError::PathTaken {
                    at: at(Some(mt.line)),
                    target: target.into(),
                    volume: mt.name.clone(),
                    source_desc: vol.map_or_else(
                        || "no such volume in the pod".to_string(),
                        |v| format!("{}, subPath {}", v.source, mt.sub_path.as_deref().unwrap_or("")),
                    ),
                    secret: s.secret_name.into(),
                }
                .into());
            }
            let volume_name = match vols.iter().find(|v| v.name == VOLUME_NAME) {
                Some(v) if ours(v) => VOLUME_NAME.to_string(),
                Some(v) => {
                    return Err(MountError::NameTaken {
                        at: at(None),
                        source_desc: v.source.clone(),
                        secret: s.secret_name.into(),
                    }
                    .into());
                }
                None => match vols.iter().find(|v| ours(v) && !v.has_items) {
                    Some(v) => v.name.clone(),
                    None => {
                        let volume = Volume {
                            name: VOLUME_NAME.into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(s.secret_name.into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        };
                        edits.extend(
                            editor.push_to_list(api.pod_spec, "volumes", &to_value(&volume)).map_err(edit_err)?,
                        );
                        reasons.push(format!("added volume `{VOLUME_NAME}` from Secret `{}`", s.secret_name));
                        paths.push("spec.template.spec.volumes".into());
                        intents.push(Intent::Append {
                            path: keys("spec.template.spec.volumes"),
                            items: vec![to_value(&volume)],
                        });
                        VOLUME_NAME.to_string()
                    }
                },
            };
            let mount = VolumeMount {
                name: volume_name.clone(),
                mount_path: target.into(),
                read_only: Some(true),
                ..Default::default()
            };
            edits.extend(editor.push_to_list(api.container, "volumeMounts", &to_value(&mount)).map_err(edit_err)?);
            reasons.push(format!(
                "mounted volume `{volume_name}` read-only at {target} in container `{}`",
                api.container_name
            ));
            paths.push(format!("{container_path}.volumeMounts"));
            intents.push(Intent::Append { path: in_container("volumeMounts"), items: vec![to_value(&mount)] });
        }
    }

    if ssh_mode {
        match kubeconfig_env {
            None => {
                let env =
                    EnvVar { name: "KUBECONFIG".into(), value: Some(SSH_KUBECONFIG.into()), ..Default::default() };
                edits.extend(editor.push_to_list(api.container, "env", &to_value(&env)).map_err(edit_err)?);
                reasons.push(format!(
                    "set KUBECONFIG={SSH_KUBECONFIG} (SSH node pools keep /root/.kube on the state volume)"
                ));
                paths.push(format!("{container_path}.env"));
                intents.push(Intent::Append { path: in_container("env"), items: vec![to_value(&env)] });
            }
            Some((node, value)) => {
                let wanted = format!("{SSH_MOUNT_PATH}/config");
                if !value.is_some_and(|v| v.split(':').any(|p| p == wanted)) {
                    return Err(MountError::KubeconfigEnv {
                        at: at(Some(tree.node(node).line)),
                        value: value.unwrap_or("(valueFrom)").into(),
                        wanted,
                    }
                    .into());
                }
            }
        }
    } else if let Some((node, value)) = kubeconfig_env {
        // KUBECONFIG replaces the default ~/.kube/config: it must name the mounted file.
        let wanted = format!("{MOUNT_PATH}/config");
        if !value.is_some_and(|v| v.split(':').any(|p| p == wanted || p == "~/.kube/config")) {
            return Err(MountError::KubeconfigEnv {
                at: at(Some(tree.node(node).line)),
                value: value.unwrap_or("(valueFrom)").into(),
                wanted,
            }
            .into());
        }
    }

    if let Some(sum) = s.kubeconfig_sha256 {
        let patch = Map::from_iter([(
            "metadata".to_string(),
            serde_json::json!({ "annotations": { CHECKSUM_ANNOTATION: sum } }),
        )]);
        let ann = editor.merge(api.template, &patch).map_err(edit_err)?;
        if !ann.is_empty() {
            edits.extend(ann);
            reasons
                .push(format!("set pod annotation {CHECKSUM_ANNOTATION} so that a changed kubeconfig rolls the pods"));
            paths.push("spec.template.metadata.annotations".into());
            let mut path = keys("spec.template.metadata.annotations");
            path.push(Seg::key(CHECKSUM_ANNOTATION));
            intents.push(Intent::Set { path, value: Value::String(sum.to_string()) });
        }
    }

    let changes = if edits.is_empty() {
        Vec::new()
    } else {
        vec![Change {
            doc: api.doc,
            resource: api.resource.clone(),
            rule: RuleId::KubeconfigMount,
            reasons,
            edits,
            paths,
            field: None,
            intents,
        }]
    };
    Ok(RuleOutput { changes, ..RuleOutput::default() })
}
