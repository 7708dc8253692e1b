//! `/ws`: GraphQL subscriptions over graphql-transport-ws (and the legacy graphql-ws).
//!
//! async-graphql's own socket silently replaces a running subscription when a client reuses
//! its id; the graphql-transport-ws protocol says the server must close the socket with
//! `4409 Subscriber for <id> already exists`. So the client's messages pass through a guard
//! that tracks the ids of running subscriptions (added on `subscribe`, removed on the
//! client's `complete` and on the server's `complete`/`error`) before reaching the executor.

use crate::auth::caller::authenticate;
use crate::graphql::AppSchema;
use crate::graphql::accounts::ClientAddr;
use crate::state::AppState;
use async_graphql::http::{WebSocket as GqlSocket, WebSocketProtocols as Protocols, WsMessage};
use futures::{SinkExt, StreamExt};
use poem::web::websocket::{Message, WebSocketStream};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

/// Close code for a reused subscription id (graphql-transport-ws).
pub const DUPLICATE_SUBSCRIPTION_CLOSE_CODE: u16 = 4409;

/// What a protocol message does to the set of running subscriptions.
#[derive(Debug, PartialEq, Eq)]
enum IdEvent {
    Start(String),
    End(String),
}

/// Reads `type` and `id` of a protocol message (either direction).
fn id_event(bytes: &[u8]) -> Option<IdEvent> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let h: Head = serde_json::from_slice(bytes).ok()?;
    let id = h.id?;
    match h.kind.as_str() {
        "subscribe" | "start" => Some(IdEvent::Start(id)),
        "complete" | "stop" | "error" => Some(IdEvent::End(id)),
        _ => None,
    }
}

/// Serves one upgraded socket until either side closes it. The caller is authenticated from
/// the `connection_init` payload (only `{"authorization": "Bearer …"}`).
pub async fn serve(
    socket: WebSocketStream,
    schema: AppSchema,
    protocol: Protocols,
    state: AppState,
    addr: ClientAddr,
) {
    let (mut sink, mut source) = socket.split();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (to_executor, from_client) = mpsc::channel::<Vec<u8>>(16);
    let (dup_tx, mut dup_rx) = oneshot::channel::<String>();

    let guard_set = running.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = source.next().await {
            if msg.is_close() {
                break;
            }
            if !(msg.is_text() || msg.is_binary()) {
                continue;
            }
            let bytes = msg.into_bytes();
            match id_event(&bytes) {
                Some(IdEvent::Start(id)) => {
                    let fresh = guard_set.lock().map(|mut s| s.insert(id.clone()));
                    if matches!(fresh, Ok(false)) {
                        let _ = dup_tx.send(id);
                        return;
                    }
                }
                Some(IdEvent::End(id)) => {
                    if let Ok(mut s) = guard_set.lock() {
                        s.remove(&id);
                    }
                }
                None => {}
            }
            if to_executor.send(bytes).await.is_err() {
                break;
            }
        }
    });

    let mut out = GqlSocket::new(schema, ReceiverStream::new(from_client), protocol)
        .on_connection_init(move |payload: serde_json::Value| async move {
            let value = payload
                .get("authorization")
                .or_else(|| payload.get("Authorization"))
                .and_then(|v| v.as_str());
            let authn = authenticate(&state.db, &state.auth.keys, value).await;
            let mut data = async_graphql::Data::default();
            data.insert(authn);
            data.insert(addr);
            Ok(data)
        });
    let mut reader_done = false;
    loop {
        tokio::select! {
            // A duplicate id wins over the end of the executor's stream (the reader stops
            // feeding it when it sees the duplicate), so the 4409 close is always sent.
            biased;
            res = &mut dup_rx, if !reader_done => {
                reader_done = true;
                let Ok(id) = res else { continue };
                let _ = sink
                    .send(Message::close_with(
                        DUPLICATE_SUBSCRIPTION_CLOSE_CODE,
                        format!("Subscriber for {id} already exists"),
                    ))
                    .await;
                break;
            }
            item = out.next() => match item {
                Some(WsMessage::Text(text)) => {
                    if let Some(IdEvent::End(id)) = id_event(text.as_bytes())
                        && let Ok(mut s) = running.lock()
                    {
                        s.remove(&id);
                    }
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::close_with(code, reason)).await;
                    break;
                }
                None => break,
            },
        }
    }
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_of_protocol_messages() {
        assert_eq!(
            id_event(br#"{"type":"subscribe","id":"1","payload":{}}"#),
            Some(IdEvent::Start("1".into()))
        );
        assert_eq!(
            id_event(br#"{"id":"1","type":"complete"}"#),
            Some(IdEvent::End("1".into()))
        );
        assert_eq!(id_event(br#"{"type":"connection_init"}"#), None);
        assert_eq!(id_event(b"not json"), None);
    }
}
