//! One-shot science commands of the binary (no database): `visibilities`, `locate`, `image`;
//! the archive commands `ingest`/`demo`; account management `user`.
//! Their output fields are read by other tools: keep them exactly.

pub mod image;
pub mod ingest;
pub mod science;
pub mod user;
