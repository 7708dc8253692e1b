//! Helpers of the URL fields (`Image.fitsUrl`, `pngUrl`, `pythonScriptUrl`, `idlScriptUrl`,
//! `ScienceFile.downloadUrl`): the links come from `AppState::links`.

use super::AppState;
use super::error::ApiError;

/// The resolver state, or an `INTERNAL` error when the schema was built without it.
pub fn state<'c>(ctx: &async_graphql::Context<'c>) -> Result<&'c AppState, ApiError> {
    ctx.data::<AppState>()
        .map_err(|_| ApiError::Internal("schema built without state".into()))
}
