//! `domain`: the STIX science of stix-archive, pure and synchronous.
//!
//! It reads real STIX L1 pixel-data and aspect files, builds calibrated visibilities
//! (`shared/docs/stix-imaging.md` sections A–D, F), reconstructs images with the five
//! algorithms of section E and writes FITS maps that `sunpy.map.Map` places on the sky
//! plus PNG quick-looks. It never touches a database, an async runtime or the network:
//! `jobs` and `api` build on it, never the other way round.

pub mod aspect;
pub mod calibration;
pub mod coords;
pub mod csv_table;
pub mod energy;
pub mod imaging;
pub mod instrument;
pub mod l1;
pub mod lightcurve;
pub mod location;
pub mod output;
pub mod policy;
pub mod quality;
pub mod selection;
pub mod time_range;
pub mod visfile;
pub mod workflow;

/// Version string of this crate, written into every product as the software version.
pub const SOFTWARE_VERSION: &str = concat!("stix-archive ", env!("CARGO_PKG_VERSION"));
