//! `doctor --live`: what SkyPilot needs of each allowed context, checked with
//! SelfSubjectAccessReview. This module is the pure part (the permissions and how results
//! become findings); the network calls live in `crate::live_client`.

use crate::change::Severity;
use crate::rbac::{MINIMAL_CLUSTER, MINIMAL_NAMESPACED, RuleSpec};

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

/// How many permissions the minimal set has (`crate::rbac`, one entry per resource and verb).
const fn count(specs: &[RuleSpec]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < specs.len() {
        n += specs[i].resources.len() * specs[i].verbs.len();
        i += 1;
    }
    n
}

const COUNT: usize = count(MINIMAL_NAMESPACED) + count(MINIMAL_CLUSTER);

/// `pods/exec` → (`pods`, Some(`exec`)), at compile time.
const fn split_subresource(resource: &'static str) -> (&'static str, Option<&'static str>) {
    let bytes = resource.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' {
            let (base, rest) = bytes.split_at(i);
            let (_, sub) = rest.split_at(1);
            return match (std::str::from_utf8(base), std::str::from_utf8(sub)) {
                (Ok(b), Ok(s)) => (b, Some(s)),
                _ => (resource, None),
            };
        }
        i += 1;
    }
    (resource, None)
}

const fn expand() -> [Permission; COUNT] {
    let mut out = [Permission { group: "", resource: "", subresource: None, verb: "", namespaced: true }; COUNT];
    let mut n = 0;
    let sets: [(&[RuleSpec], bool); 2] = [(MINIMAL_NAMESPACED, true), (MINIMAL_CLUSTER, false)];
    let mut s = 0;
    while s < sets.len() {
        let (specs, namespaced) = sets[s];
        let mut i = 0;
        while i < specs.len() {
            let spec = specs[i];
            let mut r = 0;
            while r < spec.resources.len() {
                let (resource, subresource) = split_subresource(spec.resources[r]);
                let mut v = 0;
                while v < spec.verbs.len() {
                    out[n] = Permission { group: spec.group, resource, subresource, verb: spec.verbs[v], namespaced };
                    n += 1;
                    v += 1;
                }
                r += 1;
            }
            i += 1;
        }
        s += 1;
    }
    out
}

const EXPANDED: [Permission; COUNT] = expand();

/// What doctor --live checks in each allowed context: every permission of SkyPilot's minimal
/// set (`crate::rbac::MINIMAL_NAMESPACED` in the context's namespace, `MINIMAL_CLUSTER`
/// cluster-wide), the same data `post-render --rbac add|audit|tighten` uses.
pub const NEEDED: &[Permission] = &EXPANDED;

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
