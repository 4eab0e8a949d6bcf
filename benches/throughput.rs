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

/// The stream `scripts/gen_stream.py 6000` writes (the one generator of benchmark streams,
/// also used by scripts/bench.py and the memory test): ConfigMaps and Deployments, the
/// SkyPilot chart in the middle.
static STREAM: LazyLock<String> = LazyLock::new(|| {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stream.yaml");
    let status = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/gen_stream.py"))
        .arg("6000")
        .arg(&out)
        .status()
        .expect("python3 runs scripts/gen_stream.py");
    assert!(status.success(), "scripts/gen_stream.py failed");
    std::fs::read_to_string(&out).unwrap()
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
    let settings = Settings { kubeconfig: Some("examples/kubeconfig".into()), ..Settings::default() };
    b.counter(BytesCount::new(input.len()))
        .bench(|| skyhelm::post_render::post_render(black_box(input), &settings, Some(KUBECONFIG)).unwrap());
}
