#![no_main]
//! Any config.yaml text inside the SkyPilot ConfigMap: post-render never panics, and when it
//! succeeds its output is a stream that parses; the config.yaml it writes means, as PyYAML reads
//! it, the original plus the declared changes (checked inside post-render: an internal error is
//! a bug).
use libfuzzer_sys::fuzz_target;
use skyhelm::policy::contexts::GivenList;
use skyhelm::settings::Settings;

const API: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sky-api-server\n  namespace: sky\nspec:\n  template:\n    spec:\n      containers:\n      - name: skypilot-api\n        image: img\n      volumes:\n      - name: skypilot-config\n        configMap:\n          name: sky-config\n";

fuzz_target!(|data: &[u8]| {
    let Ok(config) = std::str::from_utf8(data) else { return };
    let quoted = serde_json::to_string(config).expect("json string");
    let stream = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sky-config\n  namespace: sky\ndata:\n  config.yaml: {quoted}\n{API}");
    let mut settings = Settings::default();
    settings.allowed_contexts = GivenList::Names(vec!["a".into(), "in-cluster".into()]);
    match skyhelm::post_render::post_render(stream.as_bytes(), &settings, None) {
        Ok(out) => assert!(!out.output_bytes(stream.as_bytes()).is_empty()),
        Err(e) => assert!(!e.is_internal(), "{e}"),
    }
    settings.allowed_contexts = GivenList::None;
    if let Err(e) = skyhelm::post_render::post_render(stream.as_bytes(), &settings, None) {
        assert!(!e.is_internal(), "{e}");
    }
});
