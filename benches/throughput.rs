//! In-process throughput of the post-render pipeline's parts (`cargo bench`):
//! split (document boundaries), scan (the substring filter that finds the few documents the
//! rules parse), edit (parse and edit the API server Deployment), and the whole post-render.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use skyhelm::rules::api_server::ApiServer;
use skyhelm::settings::Settings;
use skyhelm::stream::{self, Manifests};
use skyhelm::yaml::{Editor, Limits, Tree};

fn main() {
    divan::main();
}

/// A stream like `scripts/gen_stream.py 6000`: ConfigMaps and Deployments, the SkyPilot chart
/// in the middle.
static STREAM: LazyLock<String> = LazyLock::new(|| {
    let chart = include_str!("../examples/helm3-rendered.yaml");
    let mut s = String::new();
    for i in 0..2990 {
        s.push_str(&format!(
            "---\n# Source: big/templates/cm-{i}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: big\ndata:\n  key: \"value-{i}\"\n  mode: \"0600\"\n  text: |\n    some text\n    spans lines\n---\n# Source: big/templates/dep-{i}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        env:\n        - name: MODE\n          value: \"on\"\n        volumeMounts:\n        - name: data\n          mountPath: /data\n      volumes:\n      - name: data\n        emptyDir: {{}}\n"
        ));
        if i == 1495 {
            s.push_str(chart);
        }
    }
    s
});

const KUBECONFIG: &[u8] = include_bytes!("../examples/kubeconfig");

#[divan::bench]
fn split(b: Bencher) {
    let input = STREAM.as_bytes();
    b.counter(BytesCount::new(input.len())).bench(|| stream::split(black_box(input)));
}

#[divan::bench]
fn scan(b: Bencher) {
    let input = STREAM.as_str();
    b.counter(BytesCount::new(input.len())).bench(|| {
        let m = Manifests::new(black_box(input), Limits::default(), None);
        m.containing("skypilot-api")
    });
}

#[divan::bench]
fn edit_api_server(b: Bencher) {
    let m = Manifests::new(STREAM.as_str(), Limits::default(), None);
    let api = ApiServer::locate(&m, None, "skypilot-api").unwrap();
    let text = m.text(api.doc);
    b.counter(BytesCount::new(text.len())).bench(|| {
        let tree = Tree::parse(black_box(text), &Limits::default()).unwrap();
        let editor = Editor::new(text, &tree);
        let root = tree.root().unwrap();
        let pod = tree.path(root, &["spec", "template", "spec"]).unwrap();
        editor
            .push_to_list(pod, "volumes", &serde_json::json!({"name": "kube-config", "secret": {"secretName": "x"}}))
            .unwrap()
    });
}

#[divan::bench]
fn post_render(b: Bencher) {
    let input = STREAM.as_bytes();
    let mut settings = Settings::default();
    settings.kubeconfig = Some("examples/kubeconfig".into());
    b.counter(BytesCount::new(input.len()))
        .bench(|| skyhelm::post_render::post_render(black_box(input), &settings, Some(KUBECONFIG)).unwrap());
}
