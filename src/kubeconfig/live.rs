//! `doctor --live`: what SkyPilot needs of each allowed context, checked with
//! SelfSubjectAccessReview. This module is the pure part (the permissions and how results
//! become findings); the network calls live in `crate::live_client`.

use crate::change::Severity;

use super::doctor::Finding;

/// One permission SkyPilot needs (cloud-permissions/kubernetes, FACTS.md §3 RBAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    pub verb: &'static str,
    /// False for cluster-scoped resources (nodes).
    pub namespaced: bool,
}

const fn p(resource: &'static str, verb: &'static str) -> Permission {
    Permission { group: "", resource, subresource: None, verb, namespaced: true }
}

/// What doctor --live checks in each allowed context.
pub const NEEDED: &[Permission] = &[
    p("pods", "create"),
    p("pods", "get"),
    p("pods", "list"),
    p("pods", "delete"),
    Permission { group: "", resource: "pods", subresource: Some("exec"), verb: "create", namespaced: true },
    p("services", "create"),
    p("services", "get"),
    p("services", "list"),
    p("services", "delete"),
    p("secrets", "create"),
    p("secrets", "get"),
    p("secrets", "list"),
    p("secrets", "delete"),
    Permission { group: "", resource: "nodes", subresource: None, verb: "list", namespaced: false },
];

impl Permission {
    pub fn describe(&self, namespace: &str) -> String {
        let res = match self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.to_string(),
        };
        if self.namespaced {
            format!("{} {res} in namespace {namespace}", self.verb)
        } else {
            format!("{} {res} (cluster-wide)", self.verb)
        }
    }
}

/// The outcome of checking one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveResult {
    /// Could not reach or authenticate to the API server.
    Unreachable(String),
    /// Each permission and whether the identity has it.
    Checked { namespace: String, results: Vec<(Permission, Result<bool, String>)> },
}

pub fn findings(context: &str, result: &LiveResult) -> Vec<Finding> {
    let subject = format!("context {context}");
    let f = |severity, check, message: String| Finding { severity, check, subject: subject.clone(), message };
    match result {
        LiveResult::Unreachable(why) => {
            vec![f(Severity::Error, "live-unreachable", format!("cannot check the context: {why}"))]
        }
        LiveResult::Checked { namespace, results } => {
            let mut out: Vec<Finding> = results
                .iter()
                .filter_map(|(perm, r)| match r {
                    Ok(true) => None,
                    Ok(false) => Some(f(
                        Severity::Error,
                        "live-denied",
                        format!("the identity may not {}; SkyPilot needs it", perm.describe(namespace)),
                    )),
                    Err(e) => {
                        Some(f(Severity::Error, "live-error", format!("checking {}: {e}", perm.describe(namespace))))
                    }
                })
                .collect();
            if out.is_empty() {
                out.push(f(
                    Severity::Info,
                    "live-ok",
                    format!(
                        "the identity has all {} permissions SkyPilot needs (namespace {namespace})",
                        results.len()
                    ),
                ));
            }
            out
        }
    }
}
