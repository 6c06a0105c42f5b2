//! Configuration mistakes are clear errors naming what was wrong, and nothing starts.

use std::process::{Command, Stdio};

fn gallery(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(args)
        .envs(env.iter().copied())
        .env("GALLERY_PARENT", "1")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_and_variables_are_named_with_their_values() {
    let (code, err) = gallery(&["api", "--port", "eighty"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--port \"eighty\" is not a valid number"),
        "{err}"
    );

    let (code, err) = gallery(&["api", "--port", "0"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--catalog (or GALLERY_CATALOG) is required"),
        "{err}"
    );

    let (code, err) = gallery(&["store"], &[("GALLERY_PORT", "many")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("GALLERY_PORT \"many\" is not a valid number"),
        "{err}"
    );

    let (code, err) = gallery(&["store", "--colour", "red"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unexpected argument \"--colour\""), "{err}");

    let (code, err) = gallery(
        &["store", "--port", "0"],
        &[("JAEGER_SAMPLER_TYPE", "sometimes")],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("JAEGER_SAMPLER_TYPE=\"sometimes\" is invalid"),
        "{err}"
    );

    let (code, err) = gallery(&["catalog", "--port", "0"], &[("MONGODB_URI", "not a uri")]);
    assert_eq!(code, 2);
    assert!(err.contains("MONGODB_URI"), "{err}");

    // A bucket where no S3 answers (with the `s3` feature), or a gallery built without it.
    let (code, err) = gallery(
        &["store", "--port", "0", "--s3-bucket", "images"],
        &[
            ("GALLERY_S3_ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert_eq!(code, 2);
    let expected = if cfg!(feature = "s3") {
        "the S3 bucket \"images\": "
    } else {
        "--s3-bucket \"images\" is given, but this gallery was built without the s3 feature"
    };
    assert!(err.contains(expected), "{err}");
}
