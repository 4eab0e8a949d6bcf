//! The edited Deployment keeps every other value's meaning (checked with the Kubernetes YAML
//! reader), untouched documents keep their bytes, and a second run changes nothing.

use serde_json::{Value, json};

use crate::util::{docs, k8s_json, kubeconfig_file, post_render_ok};

const API: &str = "skypilot-api";

fn container_mut<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .iter_mut()
        .find(|c| c["name"] == name)
        .expect("container")
}

/// Removes from `list[key]` the items named `name`; drops the key when it becomes empty and the
/// input had no items there. Returns the removed items.
fn take_named(parent: &mut Value, key: &str, name: &str, input_parent: &Value) -> Vec<Value> {
    let Some(list) = parent.get_mut(key).and_then(Value::as_array_mut) else {
        return vec![];
    };
    let (taken, kept): (Vec<Value>, Vec<Value>) = list.drain(..).partition(|v| v["name"] == name);
    *list = kept;
    if list.is_empty() && input_parent.get(key).is_none_or(|v| v.as_array().is_none_or(|a| a.is_empty())) {
        match input_parent.get(key) {
            Some(v) => parent[key] = v.clone(),
            None => {
                parent.as_object_mut().expect("object").remove(key);
            }
        }
    }
    taken
}

/// What post-render added to the API server Deployment, removed from `out` (so `out` can be
/// compared with the input as Kubernetes reads both).
pub(crate) struct Added {
    pub(crate) volumes: Vec<Value>,
    pub(crate) mounts: Vec<Value>,
    pub(crate) env: Vec<Value>,
    pub(crate) annotation: Option<Value>,
}

pub(crate) fn strip_added(out: &mut Value, input: &Value) -> Added {
    let in_pod = &input["spec"]["template"]["spec"];
    let volumes = take_named(&mut out["spec"]["template"]["spec"], "volumes", "kube-config", in_pod);
    let in_c =
        in_pod["containers"].as_array().expect("containers").iter().find(|c| c["name"] == API).expect("api").clone();
    let c = container_mut(out, API);
    let mounts = take_named(c, "volumeMounts", "kube-config", &in_c);
    let env = if in_c["env"].as_array().is_some_and(|e| e.iter().any(|v| v["name"] == "KUBECONFIG")) {
        vec![]
    } else {
        take_named(c, "env", "KUBECONFIG", &in_c)
    };
    let in_meta = input.pointer("/spec/template/metadata");
    let mut annotation = None;
    if let Some(meta) = out.pointer_mut("/spec/template/metadata").and_then(Value::as_object_mut) {
        annotation = meta
            .get_mut("annotations")
            .and_then(|a| a.as_object_mut())
            .and_then(|a| a.remove("skyhelm.io/kubeconfig-sha256"));
        if meta.get("annotations").is_some_and(|a| a.as_object().is_some_and(|o| o.is_empty()))
            && in_meta.and_then(|m| m.get("annotations")).is_none()
        {
            meta.remove("annotations");
        }
    }
    Added { volumes, mounts, env, annotation }
}

/// Post-renders `input`, checks byte identity of untouched documents, meaning of the edited
/// one, idempotence; returns what was added.
fn check(input: &str, args: &[&str]) -> (String, Added) {
    // RBAC additions have their own tests (rbac.rs); here only the mount's edits are checked.
    let args: Vec<&str> = args.iter().copied().chain(["--rbac", "off"]).collect();
    let args = args.as_slice();
    let out = post_render_ok(args, input);
    let (in_docs, out_docs) = (docs(input), docs(&out));
    assert_eq!(in_docs.len(), out_docs.len(), "document count changed:\n{out}");
    let (in_json, mut out_json) = (k8s_json(input), k8s_json(&out));
    let mut added = None;
    for (i, (a, b)) in in_docs.iter().zip(&out_docs).enumerate() {
        let is_api = in_json[i]["kind"] == "Deployment";
        if !is_api {
            assert_eq!(a, b, "untouched document {i} changed");
            continue;
        }
        added = Some(strip_added(&mut out_json[i], &in_json[i]));
        assert_eq!(out_json[i], in_json[i], "the edited Deployment changed meaning:\n{b}");
    }
    let again = post_render_ok(args, &out);
    assert_eq!(again, out, "a second run changed the output");
    (out, added.expect("an API server Deployment in the input"))
}

fn expect_standard_mount(added: &Added) {
    assert_eq!(added.volumes, vec![json!({"name": "kube-config", "secret": {"secretName": "kube-credentials"}})]);
    assert_eq!(added.mounts, vec![json!({"name": "kube-config", "mountPath": "/root/.kube", "readOnly": true})]);
    assert!(added.env.is_empty());
}

#[test]
fn yaml11_stream_keeps_meaning_and_bytes() {
    let input =
        std::fs::read_to_string(crate::util::root().join("tests/fixtures/yaml11-stream.yaml")).expect("fixture");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let arg = format!("--skypilot-kubeconfig={}", kc.display());
    let (out, added) = check(&input, &[&arg]);
    expect_standard_mount(&added);
    let sum = added.annotation.expect("checksum annotation");
    assert_eq!(sum.as_str().map(str::len), Some(64));
    // The flow list got a flow item and kept its comment.
    assert!(out.contains("volumeMounts: [ {name: keys, mountPath: /keys, readOnly: yes}, {name: kube-config, mountPath: /root/.kube, readOnly: true} ]  # flow, with a comment"), "{out}");
}

const BASE: &str = crate::util::API_DEPLOYMENT;

#[test]
fn crlf_lines_stay_crlf() {
    let input = BASE.replace('\n', "\r\n");
    let (out, added) = check(&input, &[]);
    expect_standard_mount(&added);
    assert!(!out.replace("\r\n", "").contains('\n'), "a bare LF was written:\n{out:?}");
}

#[test]
fn no_final_newline() {
    let input = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n{}", BASE.trim_end());
    let (out, added) = check(&input, &[]);
    expect_standard_mount(&added);
    assert!(!out.ends_with('\n'));
}

#[test]
fn null_collections_are_filled() {
    let input = BASE
        .replace(
            "        volumeMounts:\n        - name: state\n          mountPath: /root/.sky\n",
            "        volumeMounts: ~\n",
        )
        .replace("      volumes:\n      - name: state\n        emptyDir: {}\n", "      volumes:\n");
    assert!(input.contains("volumeMounts: ~") && input.contains("      volumes:\n      serviceAccountName"));
    let (_, added) = check(&input, &[]);
    expect_standard_mount(&added);
}

#[test]
fn indented_sequences_and_empty_flow_lists() {
    let input = BASE
        .replace("      - name: state\n        emptyDir: {}\n", "        - name: state\n          emptyDir: {}\n")
        .replace(
            "        volumeMounts:\n        - name: state\n          mountPath: /root/.sky\n",
            "        volumeMounts: []\n",
        );
    let (out, added) = check(&input, &[]);
    expect_standard_mount(&added);
    assert!(out.contains("        - name: kube-config\n          secret:\n"), "indentation not followed:\n{out}");
    assert!(out.contains("volumeMounts: [{name: kube-config, mountPath: /root/.kube, readOnly: true}]"), "{out}");
}

#[test]
fn ssh_node_pools_mount_and_kubeconfig_env() {
    let input = BASE.replace("        emptyDir: {}\n", "        emptyDir: {}\n      - name: pools\n        secret:\n          secretName: sky-ssh-node-pools\n          defaultMode: 0600\n");
    let (_, added) = check(&input, &[]);
    assert_eq!(
        added.mounts,
        vec![json!({"name": "kube-config", "mountPath": "/var/skypilot/kubeconfig", "readOnly": true})]
    );
    assert_eq!(
        added.env,
        vec![json!({"name": "KUBECONFIG", "value": "/root/.kube/config:/var/skypilot/kubeconfig/config"})]
    );
}

#[test]
fn existing_mount_under_another_name_is_left_alone() {
    let input = BASE.replace("          mountPath: /root/.sky\n", "          mountPath: /root/.sky\n        - name: my-kubeconfig\n          mountPath: /root/.kube/\n").replace("        emptyDir: {}\n", "        emptyDir: {}\n      - name: my-kubeconfig\n        secret: {secretName: kube-credentials, defaultMode: 0400}\n");
    let out = post_render_ok(&["--rbac", "off"], &input);
    assert_eq!(out, input);
}

/// Found by the property tests: the pod spec has no `volumes`, and the API container (last
/// entry of the pod spec) ends where the pod spec ends; the mount must go into the container
/// and the volume after it, at the pod spec's level, with or without a final newline.
#[test]
fn nested_and_parent_insertions_at_the_same_place() {
    let input = BASE.replace("      volumes:\n      - name: state\n        emptyDir: {}\n", "");
    for text in [input.clone(), input.trim_end().to_string(), input.replace('\n', "\r\n")] {
        let (_, added) = check(&text, &[]);
        expect_standard_mount(&added);
    }
}

/// Comments are YAML's to skip wherever they stand: 150 comment lines between `volumeMounts:`
/// and its list, and between a key and its nested mapping, were refused ("too many buffered
/// comments while looking ahead"), which kubectl and Helm accept. They are kept byte for byte.
#[test]
fn many_comments_in_one_place_are_read_and_kept() {
    let comments = "        # a comment\n".repeat(150);
    let input = BASE
        .replace("        volumeMounts:\n", &format!("        volumeMounts:\n{comments}"))
        .replace("  template:\n", &format!("  template:\n{}", "    # another\n".repeat(150)));
    assert!(input.len() > BASE.len() + 150 * 20, "the comments went in");
    let (out, added) = check(&input, &[]);
    expect_standard_mount(&added);
    assert!(out.contains(&comments) && out.contains(&"    # another\n".repeat(150)), "{out}");
}
