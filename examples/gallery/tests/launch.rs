//! Starting the services as the demo and the end-to-end test do: `Launch::start` returns only
//! once every service answers, so a first request never meets one not yet listening; when one
//! cannot start, it says which instead of returning services that do not work.

use gallery::launch::{Launch, Records, StartError};

/// Starts the services with the data path of `service` taken by a file, where its directory
/// should go: that service stops at once with an error, the other two start.
async fn start_with_a_broken(service: &str) -> StartError {
    let data = gallery::launch::temporary_data(&format!("launch-{service}"));
    std::fs::create_dir_all(&data).unwrap();
    let taken = match service {
        "catalog" => "catalog",
        _ => "blobs",
    };
    std::fs::write(data.join(taken), "not a directory").unwrap();
    let started = Launch {
        exe: env!("CARGO_BIN_EXE_gallery").into(),
        data: data.clone(),
        agent: None,
        slow: false,
        records: Records::Sqlite,
    }
    .start()
    .await;
    gallery::launch::remove_data(&data);
    match started {
        Ok(_) => panic!("started although the {service} could not"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_catalog_that_cannot_start_is_an_error_naming_it() {
    let error = start_with_a_broken("catalog").await;
    assert!(
        matches!(&error, StartError::Exited("catalog", status) if status.code() == Some(2)),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the catalog stopped before it answered"),
        "{error}"
    );
}

#[tokio::test]
async fn a_store_that_cannot_start_is_an_error_naming_it() {
    let error = start_with_a_broken("store").await;
    assert!(
        matches!(&error, StartError::Exited("store", status) if status.code() == Some(2)),
        "{error:?}"
    );
}
