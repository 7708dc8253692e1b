//! Queue → worker → job-event bus → GraphQL subscription over a real WebSocket.

use crate::support::{TIMEOUT, spawn_app};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Reads text frames until one satisfies `pred`, failing after the timeout.
async fn next_matching<S>(
    ws: &mut S,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).expect("JSON frame");
                    if pred(&v) {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("websocket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the expected message arrives in time")
}

#[tokio::test]
async fn job_status_is_pushed_over_graphql_transport_ws() {
    let app = spawn_app().await;
    // jobStatus needs a token; an admin may follow any job.
    let admin = crate::client::admin_token(&app, "root").await;
    let mut req = app.ws_url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket connects");
    ws.send(Message::Text(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {admin}")}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_matching(&mut ws, |v| v["type"] == "connection_ack").await;

    // A job of a kind this build does not run: it must go RUNNING → FAILED with a reason,
    // through the real queue and worker, and the subscription must see both.
    let job = unknown_kind_job(&app).await;
    ws.send(Message::Text(
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { jobStatus(jobId: $id) { jobId status message } }",
                "variables": { "id": job.public_id.to_string() }
            }
        })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();
    let failed = next_matching(&mut ws, |v| {
        v["type"] == "next" && v["payload"]["data"]["jobStatus"]["status"] == "FAILED"
    })
    .await;
    let ev = &failed["payload"]["data"]["jobStatus"];
    assert_eq!(
        ev["jobId"],
        api::graphql::reconstruction::job_global_id(job.public_id)
    );
    assert!(
        ev["message"].as_str().unwrap().contains("no-such-kind"),
        "{ev}"
    );

    // The row, not the queue, is the source of truth.
    use sea_orm::EntityTrait;
    let row = jobs::store::entities::reconstruction_job::Entity::find_by_id(job.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "FAILED");
    assert_eq!(row.error_code.as_deref(), Some("UNSUPPORTED_JOB_KIND"));
    assert_eq!(row.attempts, 1);
    assert!(row.finished_at.is_some());

    app.stop().await;
}

/// A job row of a kind this build does not know (as an older or newer build could leave in
/// a shared database), queued like any other.
async fn unknown_kind_job(
    app: &crate::support::TestApp,
) -> jobs::store::entities::reconstruction_job::Model {
    use jobs::store::entities::reconstruction_job;
    use sea_orm::{ActiveModelTrait, Set};
    let now = chrono::Utc::now();
    let row = reconstruction_job::ActiveModel {
        public_id: Set(uuid::Uuid::new_v4()),
        owner_id: Set(None),
        kind: Set("no-such-kind".into()),
        status: Set("QUEUED".into()),
        stage: Set(None),
        progress_done: Set(0),
        progress_total: Set(0),
        attempts: Set(0),
        request: Set(json!({"v": 1})),
        request_hash: Set(uuid::Uuid::new_v4().to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        cancel_requested: Set(false),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .expect("insert the job row");
    app.state
        .queue
        .push(jobs::queue::QueueTask::for_job(row.id), None)
        .await
        .expect("queue it");
    row
}
