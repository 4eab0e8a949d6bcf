//! `doctor --live` against a local API double: a small HTTP server on 127.0.0.1 that answers
//! SelfSubjectAccessReview the way the Kubernetes API server does (kube-rs tests its client
//! against doubles too). No cluster is reachable here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::util::skyhelm;

/// Answers SelfSubjectAccessReview: allowed unless `denied(resource, subresource, verb)`;
/// 401 for a wrong token. Records every review it was asked.
struct ApiDouble {
    port: u16,
    asked: Arc<Mutex<Vec<Value>>>,
}

fn handle(stream: TcpStream, asked: Arc<Mutex<Vec<Value>>>, denied: fn(&str, &str, &str) -> bool) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        let mut authorized = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("authorization:") && h.ends_with("Bearer test-token") {
                authorized = true;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let (status, reply) = if !authorized {
            (
                "401 Unauthorized",
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
            )
        } else if request_line.starts_with("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews") {
            let mut review: Value = serde_json::from_slice(&body).expect("review json");
            asked.lock().expect("lock").push(review.clone());
            let a = &review["spec"]["resourceAttributes"];
            let allowed = !denied(
                a["resource"].as_str().unwrap_or(""),
                a["subresource"].as_str().unwrap_or(""),
                a["verb"].as_str().unwrap_or(""),
            );
            review["status"] = json!({"allowed": allowed});
            review["apiVersion"] = json!("authorization.k8s.io/v1");
            review["kind"] = json!("SelfSubjectAccessReview");
            ("201 Created", review)
        } else {
            ("404 Not Found", json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}))
        };
        let text = reply.to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}

impl ApiDouble {
    fn start(denied: fn(&str, &str, &str) -> bool) -> ApiDouble {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let a = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let a = a.clone();
                std::thread::spawn(move || handle(stream, a, denied));
            }
        });
        ApiDouble { port, asked }
    }
}

fn kubeconfig(port: u16, token: &str) -> String {
    // The second context points at a port where nothing listens.
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: double\nclusters:\n- name: double\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\n- name: closed\n  cluster: {{server: \"http://127.0.0.1:1\"}}\ncontexts:\n- name: double\n  context: {{cluster: double, user: u, namespace: skypilot}}\n- name: closed\n  context: {{cluster: closed, user: u}}\nusers:\n- name: u\n  user: {{token: {token}}}\n"
    )
}

fn live(kc: &str, allowed: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("kc");
    std::fs::write(&p, kc).expect("write");
    let mut args =
        vec!["doctor", "--live", "--timeout", "5", "--output", "json", "--kubeconfig", p.to_str().expect("path")];
    for a in allowed {
        args.extend(["--allowed-context", a]);
    }
    let out = skyhelm(&args, b"");
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().expect("code"), json)
}

fn checks(json: &Value, subject: &str) -> Vec<String> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["subject"] == subject)
        .map(|f| format!("{} {}", f["check"].as_str().unwrap_or(""), f["message"].as_str().unwrap_or("")))
        .collect()
}

#[test]
fn live_reports_ok_when_every_permission_is_granted() {
    let api = ApiDouble::start(|_, _, _| false);
    let (code, json) = live(&kubeconfig(api.port, "test-token"), &["double"]);
    assert_eq!(code, 0, "{json}");
    let found = checks(&json, "context double");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("live-ok") && found[0].contains("namespace skypilot"), "{found:?}");
    let asked = api.asked.lock().expect("lock");
    // Every permission of SkyPilot's minimal set (listed here, test-side), each asked once.
    let mut minimal: Vec<(&str, &str, &str, &str, bool)> = Vec::new();
    for (res, sub) in
        [("pods", ""), ("pods", "status"), ("pods", "exec"), ("pods", "portforward"), ("services", ""), ("secrets", "")]
    {
        for verb in ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] {
            minimal.push(("", res, sub, verb, true));
        }
    }
    for verb in ["get", "list", "watch"] {
        minimal.push(("", "events", "", verb, true));
        minimal.push(("", "nodes", "", verb, false));
        minimal.push(("node.k8s.io", "runtimeclasses", "", verb, false));
        minimal.push(("storage.k8s.io", "storageclasses", "", verb, false));
    }
    assert_eq!(asked.len(), minimal.len());
    for (group, res, sub, verb, namespaced) in minimal {
        let hits = asked
            .iter()
            .filter(|r| {
                let a = &r["spec"]["resourceAttributes"];
                a["group"].as_str().unwrap_or("") == group
                    && a["resource"] == res
                    && a["subresource"].as_str().unwrap_or("") == sub
                    && a["verb"] == verb
                    && if namespaced { a["namespace"] == "skypilot" } else { a.get("namespace").is_none() }
            })
            .count();
        assert_eq!(hits, 1, "{verb} {group}/{res}/{sub} namespaced={namespaced}");
    }
    assert!(asked.iter().any(|r| r["spec"]["resourceAttributes"]["subresource"] == "exec"
        && r["spec"]["resourceAttributes"]["namespace"] == "skypilot"));
    assert!(asked.iter().any(|r| r["spec"]["resourceAttributes"]["resource"] == "nodes"
        && r["spec"]["resourceAttributes"].get("namespace").is_none()));
}

#[test]
fn live_names_each_missing_permission() {
    let api = ApiDouble::start(|res, sub, verb| {
        (res == "pods" && sub == "exec" && verb == "create") || (res == "secrets" && verb == "delete")
    });
    let (code, json) = live(&kubeconfig(api.port, "test-token"), &["double"]);
    assert_eq!(code, 1);
    let found = checks(&json, "context double");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|f| f.contains("create pods/exec in namespace skypilot")), "{found:?}");
    assert!(found.iter().any(|f| f.contains("delete secrets in namespace skypilot")), "{found:?}");
}

#[test]
fn live_reports_unreachable_and_unauthorized_contexts_without_the_token() {
    let api = ApiDouble::start(|_, _, _| false);
    let (code, json) = live(&kubeconfig(api.port, "wrong-token"), &["double", "closed"]);
    assert_eq!(code, 1);
    for ctx in ["context double", "context closed"] {
        let found = checks(&json, ctx);
        assert!(found.len() == 1 && found[0].starts_with("live-unreachable"), "{ctx}: {found:?}");
    }
    assert!(!json.to_string().contains("wrong-token"));
}
