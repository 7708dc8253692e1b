//! The schema extension that gives every error an `extensions.code`, including those
//! async-graphql makes itself: parse errors (`GRAPHQL_PARSE_FAILED`, message cut to
//! [`MAX_PARSE_MESSAGE_BYTES`] so a huge query is never echoed back), validation errors
//! including the depth and complexity limits (`GRAPHQL_VALIDATION_FAILED`), input coercion
//! errors (`BAD_USER_INPUT`), and anything else without a code (`INTERNAL`).

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;

/// Longest parse-error message sent to a client, in bytes.
pub const MAX_PARSE_MESSAGE_BYTES: usize = 1024;

/// `extensions.code` of a query that is not valid GraphQL syntax.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a query that breaks the schema's rules or limits.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Installs [`ErrorCodesExtension`] on a schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

/// Adds codes to the errors of each phase.
pub struct ErrorCodesExtension;

fn has_code(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

fn set_code(e: &mut ServerError, code: &str) {
    if !has_code(e) {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// Cuts `message` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate_message(message: &mut String, max: usize) {
    if message.len() <= max {
        return;
    }
    const MARK: &str = " […]";
    let mut end = max - MARK.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(MARK);
}

/// The code of an error that left a phase without one.
fn fallback_code(e: &ServerError) -> &'static str {
    let m = e.message.as_str();
    if m.starts_with("Failed to parse") || m.starts_with("Invalid value") {
        "BAD_USER_INPUT"
    } else if m.starts_with("Unknown operation") || m.starts_with("Operation name required") {
        VALIDATION_FAILED
    } else {
        "INTERNAL"
    }
}

fn finish(mut r: Response) -> Response {
    for e in &mut r.errors {
        let code = fallback_code(e);
        set_code(e, code);
    }
    r
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        finish(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(finish).boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut e| {
            truncate_message(&mut e.message, MAX_PARSE_MESSAGE_BYTES);
            set_code(&mut e, PARSE_FAILED);
            e
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                truncate_message(&mut e.message, MAX_PARSE_MESSAGE_BYTES);
                set_code(e, VALIDATION_FAILED);
            }
            errors
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries() {
        let mut m = "é".repeat(2000);
        truncate_message(&mut m, MAX_PARSE_MESSAGE_BYTES);
        assert!(m.len() <= MAX_PARSE_MESSAGE_BYTES, "{}", m.len());
        let mut short = "short".to_string();
        truncate_message(&mut short, MAX_PARSE_MESSAGE_BYTES);
        assert_eq!(short, "short");
    }
}
