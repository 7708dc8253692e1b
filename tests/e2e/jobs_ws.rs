//! Queue → worker → job-event bus → GraphQL subscription over a real WebSocket.

use crate::support::{TIMEOUT, spawn_app};
use futures::{SinkExt, StreamExt};
use jobs::submit::{NewJob, submit};
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
    let mut req = app.ws_url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket connects");
    ws.send(Message::Text(
        json!({"type": "connection_init", "payload": {}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_matching(&mut ws, |v| v["type"] == "connection_ack").await;

    // A job of a kind this build does not run: it must go RUNNING → FAILED with a reason,
    // through the real queue and worker, and the subscription must see both.
    let (job, _) = submit(
        &app.state.db,
        &app.state.queue,
        NewJob {
            kind: "no-such-kind".into(),
            request: json!({"v": 1}),
            science_file_id: None,
            owner_id: None,
        },
    )
    .await
    .expect("submit");
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
    assert_eq!(ev["jobId"], job.public_id.to_string());
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

    // Submitting the same failed request again makes a new job (failed ones are not reused);
    // submitting it while that one is queued returns the same job.
    let nj = || NewJob {
        kind: "no-such-kind".into(),
        request: json!({"v": 1}),
        science_file_id: None,
        owner_id: None,
    };
    let (again, new) = submit(&app.state.db, &app.state.queue, nj()).await.unwrap();
    assert!(new && again.id != job.id);
    app.stop().await;
}
