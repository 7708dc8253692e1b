//! The preview policy: which flares a science file holds, which time/energy boxes to image
//! (`preview-v1`) and which background to subtract. Pure, synchronous rules that the `jobs`
//! preview pipeline calls (`shared/docs/stix-imaging.md` G).
//!
//! * [`flare_list`]: import of the community flare-list CSV;
//! * [`flare_detection`]: flares in a file's own 4–10 keV light curve when none is listed;
//! * [`flare_window`]: the flaring time handed to the policy, and its provenance;
//! * [`preview_v1`]: the `preview-v1` box selection (total counts);
//! * [`preview_v2`]: the `preview-v2` box selection (background-subtracted counts), the
//!   default for new ingests;
//! * [`background`] and [`elut_period`]: the background file and its calibration period.

pub mod background;
pub mod elut_period;
pub mod flare_detection;
pub mod flare_list;
pub mod flare_window;
pub mod preview_v1;
pub mod preview_v2;

pub use flare_window::{FlareOrigin, FlareWindow, flare_windows_for_file};
