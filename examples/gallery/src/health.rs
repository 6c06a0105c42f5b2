//! `GET /health`, which every service answers, untraced: how whoever starts the services (the
//! demo, the end-to-end test, a Kubernetes probe) knows that one is up.

use axum::Router;
use axum::routing::get;
use traced::http::TraceLayer;

/// `router` with `GET /health` added, every other request traced by `TraceLayer`.
pub fn traced_with_health(router: Router) -> Router {
    router
        .route("/health", get(|| async { "ok" }))
        // Health checks are not requests anyone wants traced.
        .layer(TraceLayer::new().filter(|req| req.uri.path() != "/health"))
}
