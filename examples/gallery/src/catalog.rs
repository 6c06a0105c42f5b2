//! The metadata catalog: the service that keeps image records, over HTTP, in front of an
//! [`ImageRepository`]. Traced by `TraceLayer` (one server span per request, named by route), so
//! the repository's spans nest under the request that caused them.
//!
//! `GET /images`, `GET /images/{id}`, `POST /images` (`{"id", "name", "content_type", "size"}`;
//! without an id, a new one is made), `DELETE /images/{id}`, and `GET /health`, untraced;
//! errors are JSON `{"error": "..."}` with a 4xx or 5xx status.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::health::traced_with_health;
use crate::repository::{
    IMAGE_ID_SHAPE, Image, ImageRepository, NewImage, RepositoryError, is_image_id, new_id,
};

type Repo = Arc<dyn ImageRepository>;

/// An image record as JSON.
pub fn image_json(image: &Image) -> Value {
    json!({
        "id": image.id,
        "name": image.name,
        "content_type": image.content_type,
        "size": image.size,
        "created_ms": image.created_ms,
    })
}

/// A JSON error answer.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

fn failed(e: &RepositoryError) -> Response {
    match e {
        RepositoryError::NotFound(_) => error(StatusCode::NOT_FOUND, e),
        RepositoryError::Conflict(_) => error(StatusCode::CONFLICT, e),
        RepositoryError::Database(_) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The catalog's routes over `repo`, traced.
pub fn router(repo: Repo) -> Router {
    traced_with_health(
        Router::new()
            .route("/images", get(list).post(insert))
            .route("/images/{id}", get(one).delete(remove))
            .with_state(repo),
    )
}

async fn list(State(repo): State<Repo>) -> Response {
    match repo.get_all_images().await {
        Ok(images) => Json(Value::from(
            images.iter().map(image_json).collect::<Vec<_>>(),
        ))
        .into_response(),
        Err(e) => failed(&e),
    }
}

async fn one(State(repo): State<Repo>, Path(id): Path<String>) -> Response {
    match repo.get_image(&id).await {
        Ok(image) => Json(image_json(&image)).into_response(),
        Err(e) => failed(&e),
    }
}

async fn insert(State(repo): State<Repo>, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "expected a JSON object");
    };
    let text = |key: &str| {
        body[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (Some(name), Some(content_type), Some(size)) =
        (text("name"), text("content_type"), body["size"].as_u64())
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected name, content_type (non-empty strings) and size (a number)",
        );
    };
    let id = match &body["id"] {
        Value::Null => new_id(),
        Value::String(id) if is_image_id(id) => id.clone(),
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, IMAGE_ID_SHAPE),
    };
    match repo
        .insert_image(NewImage {
            id,
            name,
            content_type,
            size,
        })
        .await
    {
        Ok(image) => (StatusCode::CREATED, Json(image_json(&image))).into_response(),
        Err(e) => failed(&e),
    }
}

async fn remove(State(repo): State<Repo>, Path(id): Path<String>) -> Response {
    match repo.delete_image(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;
    use traced::TagValue;
    use traced::testing::Capture;

    use super::*;
    use crate::SqliteRepository;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn requests_are_served_and_traced_down_to_the_repository() {
        let capture = Capture::install();
        let app = router(Arc::new(SqliteRepository::in_memory().unwrap()));
        let (status, cat) = call(
            &app,
            "POST",
            "/images",
            Some(json!({"name": "cat.png", "content_type": "image/png", "size": 5})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = cat["id"].as_str().unwrap().to_owned();
        let (status, all) = call(&app, "GET", "/images", None).await;
        assert_eq!((status, all.as_array().unwrap().len()), (StatusCode::OK, 1));
        let (status, one) = call(&app, "GET", &format!("/images/{id}"), None).await;
        assert_eq!(
            (status, one["name"].as_str()),
            (StatusCode::OK, Some("cat.png"))
        );
        let (status, missing) = call(&app, "GET", "/images/nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(missing["error"], "image nope not found");
        let (status, _) = call(&app, "POST", "/images", Some(json!({"name": ""}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let dog = json!({"id": "00000000000000d0", "name": "dog.png", "content_type": "image/png", "size": 3});
        let (status, created) = call(&app, "POST", "/images", Some(dog.clone())).await;
        assert_eq!(
            (status, &created["id"]),
            (StatusCode::CREATED, &dog["id"]),
            "the caller's id"
        );
        let (status, conflict) = call(&app, "POST", "/images", Some(dog)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(conflict["error"], "image 00000000000000d0 exists already");
        let bad_id = json!({"id": "../etc", "name": "x", "content_type": "image/png", "size": 1});
        let (status, _) = call(&app, "POST", "/images", Some(bad_id)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = call(&app, "DELETE", &format!("/images/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let list = capture.span("HTTP GET /images");
        let query = capture.span("get_all_images");
        assert_eq!(query.parent_id(), Some(list.span_id()));
        assert_eq!(query.trace_id(), list.trace_id());
        assert_eq!(query.tag("db.type"), Some(TagValue::from("sqlite")));
        let lookups = capture.spans_named("HTTP GET /images/{id}");
        assert_eq!(lookups.len(), 2, "named by route, not by id");
        let failed = lookups
            .iter()
            .find(|s| s.tag("http.status_code") == Some(TagValue::Integer(404)))
            .unwrap();
        let failed_get = capture
            .spans_named("get_image")
            .into_iter()
            .find(|s| s.parent_id() == Some(failed.span_id()))
            .unwrap();
        assert_eq!(failed_get.tag("error"), Some(TagValue::Boolean(true)));
    }
}
