#![no_main]
//! The splitter tiles any input: the documents put back together are the input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ranges = skyhelm::stream::split(data);
    let mut at = 0;
    for r in &ranges {
        assert_eq!(r.start, at);
        assert!(r.end > r.start);
        at = r.end;
    }
    assert_eq!(at, data.len());
});
