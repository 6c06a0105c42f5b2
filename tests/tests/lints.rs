//! The expansion adds no lint to a user's crate, even the strictest: every supported shape,
//! compiled under `#![deny(warnings)]` and clippy's `all` and `pedantic` groups (CI runs
//! clippy with `-D warnings` over this file), then run and checked for its spans.

#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

include!("../ui/shapes.rs");

#[test]
fn every_shape_compiles_cleanly_and_is_traced() {
    let capture = traced::testing::Capture::install();
    run();
    let names: Vec<String> = capture
        .spans()
        .iter()
        .map(|s| s.operation_name().to_owned())
        .collect();
    for expected in [
        "free",
        "generic",
        "returns_impl",
        "destructures",
        "reads",
        "question_mark",
        "explicit",
        "explicit_by_value",
        "every_argument",
        "by_ref",
        "by_mut",
        "by_value",
        "boxed",
        "shared",
        "async_by_ref",
        "Repository::fetch",
        "async_free",
        "TracedFirst::load",
        "AsyncTraitFirst::load",
        "OnMethod::load",
        "Block::new",
        "Block.renamed",
        "coerces_to_dyn",
        "coerces_to_box",
        "coerces_to_slice",
        "sync_coerces_to_box",
        "never_returns",
        "never_resolves",
        "AsyncTraitFirst::later",
        "tags_by_reference",
        "shared_future",
        "returned_future",
        "gated",
        "caller_line",
        "yields_a_future",
        "tag_beats_argument",
        "skips_self",
        "skips_self_and_more",
        "one_line",
        "one_line_result",
        "one_line_ret",
        "one_line_loop",
        "one_line_track_caller",
        "one_line_async",
        "one_line_future",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no span {expected:?} in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.contains("untraced")));
}
