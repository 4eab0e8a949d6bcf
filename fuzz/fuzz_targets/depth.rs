#![no_main]
//! Documents nested near `--max-depth` (issue 24): the whole post-render, on a thread sized by
//! `app::stack` as the binary runs it. The fuzzer picks the limit (the default 10,000 mostly),
//! how far from it the nesting ends (two levels under to one over), where it sits (the API
//! server's `args` or config.yaml in its ConfigMap) and the shape of every level (compact block
//! sequences first, then flow sequences and flow mappings in any order). Never a crash or an
//! internal error; at or under the limit the depth is never the error; past it, it is.
use libfuzzer_sys::fuzz_target;
use skyhelm::settings::Settings;

const API: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: sky-api-server
  namespace: sky
spec:
  template:
    spec:
      containers:
      - name: skypilot-api
        image: img
ARGS        volumeMounts:
        - name: state
          mountPath: /root/.sky
      volumes:
      - name: state
        emptyDir: {}
      serviceAccountName: sky-api
";

/// `levels` collections: `block` compact block sequences (`- - `), then flow collections whose
/// kinds `shape` spells (cycled), innermost a scalar.
fn nested(levels: usize, block: usize, shape: &[u8], indent: usize) -> String {
    let block = block.min(levels);
    let mut open = String::new();
    let mut close = String::new();
    for i in 0..levels - block {
        if shape.get(i % shape.len().max(1)).is_some_and(|b| b & 1 == 1) {
            open.push_str("{a: ");
            close.push('}');
        } else {
            open.push('[');
            close.push(']');
        }
    }
    let inner = if levels == block { "x".to_string() } else { format!("{open}x{}", close.chars().rev().collect::<String>()) };
    if block == 0 { inner } else { format!("\n{}{}{inner}", " ".repeat(indent), "- ".repeat(block)) }
}

fuzz_target!(|data: &[u8]| {
    let [place, offset, block, limit, shape @ ..] = data else { return };
    let limit = [10_000, 10_000, 10_000, 100, 1_000, 20_000][usize::from(*limit) % 6];
    // The document's depth: limit-2 ..= limit+1.
    let depth = limit + usize::from(offset % 4) - 2;
    let text = if place & 1 == 0 {
        // args sits 6 deep: the document, spec, template, spec, containers, the container.
        let levels = depth - 6;
        let block = usize::from(*block) * levels / 255;
        let args = format!("        args: {}\n", nested(levels, block, shape, 9));
        format!("---\n{}", API.replace("ARGS", &args))
    } else {
        // A top-level key of config.yaml: 1 deep.
        let levels = depth - 1;
        let block = usize::from(*block) * levels / 255;
        let config = format!("kubernetes:\n  allowed_contexts: [in-cluster, in-cluster]\nx: {}\n", nested(levels, block, shape, 1));
        let body: String = config.lines().map(|l| format!("    {l}\n")).collect();
        let cm = format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sky-config\n  namespace: sky\ndata:\n  config.yaml: |\n{body}");
        format!("{cm}---\n{}", API.replace("ARGS", ""))
    };
    let mut settings = Settings::default();
    settings.limits.max_depth = limit;
    let verdict = skyhelm::app::stack::with_depth(limit, || {
        match skyhelm::post_render::post_render(text.as_bytes(), &settings, None) {
            Ok(_) => None,
            Err(e) => {
                assert!(!e.is_internal(), "{e}");
                Some(e.to_string())
            }
        }
    })
    .expect("the worker thread starts");
    let too_deep = format!("exceeded max depth of {limit}");
    match verdict {
        Some(e) if depth <= limit => assert!(!e.contains(&too_deep), "depth {depth}: {e}"),
        Some(e) => assert!(e.contains(&too_deep), "depth {depth}: {e}"),
        None => assert!(depth <= limit, "depth {depth} past {limit} was accepted"),
    }
});
