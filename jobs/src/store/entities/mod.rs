//! sea-orm entities, one module per table of `migrations/`. Rows never leave `jobs` as
//! GraphQL types: `api` maps them to its own types.

pub mod animation;
pub mod flare;
pub mod flare_science_file;
pub mod image;
pub mod preview_skip;
pub mod reconstruction_job;
pub mod science_file;
pub mod user;
