//! Finds the SkyPilot API server: the Deployment whose pod template has the API container.

use crate::messages::escaped;
use crate::stream::{DocIndex, DocRef, ManifestError, Manifests, ResourceId};
use crate::yaml::NodeId;

use super::RuleError;

/// Container name of the API server in the upstream chart.
/// Suffix of the API server Deployment's name in the upstream chart (`<fullname>-api-server`).
pub const DEPLOYMENT_SUFFIX: &str = "-api-server";

/// The located API server Deployment, with nodes of its (cached) parsed tree.
#[derive(Debug, Clone)]
pub struct ApiServer {
    pub doc: DocIndex,
    pub resource: ResourceId,
    pub template: NodeId,
    pub pod_spec: NodeId,
    pub container: NodeId,
    pub container_name: String,
    /// The chart's `<fullname>`, from the Deployment's name.
    pub fullname: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub deployment: String,
    pub containers: Vec<String>,
}

fn describe(found: &[Found]) -> String {
    if found.is_empty() {
        return "no Deployment in the stream".into();
    }
    found
        .iter()
        .map(|f| format!("{} (containers: {})", escaped(&f.deployment), escaped(&f.containers.join(", "))))
        .collect::<Vec<_>>()
        .join("; ")
}

/// ` and the name `NAME`` when --deployment was given.
fn and_named(deployment: Option<&str>) -> String {
    deployment.map(|d| format!(" and the name `{}`", escaped(d))).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    #[error("no Deployment has a container named `{}`{}; found: {}. Use --deployment and --container to name the API server", escaped(container), and_named(deployment.as_deref()), describe(found))]
    NotFound { container: String, deployment: Option<String>, found: Vec<Found> },
    #[error(
        "several Deployments have a container named `{}`: {}. Use --deployment to choose one",
        escaped(container),
        describe(found)
    )]
    Ambiguous { container: String, found: Vec<Found> },
    #[error("{at}: `{what}` is missing or not a mapping")]
    Shape { at: DocRef, what: &'static str },
}

impl ApiServer {
    pub fn locate(m: &Manifests, deployment: Option<&str>, container: &str) -> Result<ApiServer, RuleError> {
        let mut hits = Vec::new();
        for doc in m.maybe_naming(&[container]) {
            if let Some(api) = Self::from_document(m, doc, container)?
                && deployment.is_none_or(|d| d == api.resource.name)
            {
                hits.push(api);
            }
        }
        match hits.len() {
            1 => Ok(hits.remove(0)),
            0 => Err(ApiServerError::NotFound {
                container: container.into(),
                deployment: deployment.map(str::to_string),
                found: Self::all_deployments(m),
            }
            .into()),
            _ => Err(ApiServerError::Ambiguous {
                container: container.into(),
                found: hits
                    .iter()
                    .map(|h| Found { deployment: h.resource.to_string(), containers: vec![container.into()] })
                    .collect(),
            }
            .into()),
        }
    }

    fn from_document(m: &Manifests, doc: DocIndex, container: &str) -> Result<Option<ApiServer>, ManifestError> {
        // Only a Deployment's tree is kept (parsed once): every other document that names the
        // container (a ServiceAccount `<container>-sa` in each of many bindings) is read once
        // and dropped.
        let Some(resource) = m.peek_resource_keeping(doc, |r| r.kind == "Deployment")? else {
            return Ok(None);
        };
        if resource.kind != "Deployment" {
            return Ok(None);
        }
        let tree = m.tree(doc)?;
        let Some(root) = tree.root() else {
            return Ok(None);
        };
        let Some(template) = tree.path(root, &["spec", "template"]) else {
            return Ok(None);
        };
        let Some(pod_spec) = tree.get(template, "spec").filter(|&n| tree.is_map(n)) else {
            return Ok(None);
        };
        let Some(containers) = tree.get(pod_spec, "containers") else {
            return Ok(None);
        };
        let Some(&c) = tree.items(containers).iter().find(|&&c| tree.get_str(c, "name") == Some(container)) else {
            return Ok(None);
        };
        let fullname = resource.name.strip_suffix(DEPLOYMENT_SUFFIX).unwrap_or(&resource.name).to_string();
        Ok(Some(ApiServer {
            doc,
            resource,
            template,
            pod_spec,
            container: c,
            container_name: container.into(),
            fullname,
        }))
    }

    fn all_deployments(m: &Manifests) -> Vec<Found> {
        let mut found = Vec::new();
        for doc in m.containing("Deployment") {
            let Ok(Some(r)) = m.resource(doc) else {
                continue;
            };
            if r.kind != "Deployment" {
                continue;
            }
            let Ok(tree) = m.tree(doc) else { continue };
            let containers = tree
                .root()
                .and_then(|root| tree.path(root, &["spec", "template", "spec", "containers"]))
                .map(|cs| tree.items(cs).iter().filter_map(|&c| tree.get_str(c, "name").map(str::to_string)).collect())
                .unwrap_or_default();
            found.push(Found { deployment: r.to_string(), containers });
        }
        found
    }
}
