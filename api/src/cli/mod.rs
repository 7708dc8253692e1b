//! One-shot science commands of the binary (no database): `visibilities`, `locate`, `image`.
//! Their output fields are read by other tools: keep them exactly.

pub mod image;
pub mod ingest;
pub mod science;
