//! Reproduction scripts and plot templates, rendered from an image's provenance: text only,
//! no I/O. The API serves them (`/scripts/images/{id}.py`, `.pro`, animation and overlay
//! templates); the templates live beside this file (`templates/`) and are embedded at build
//! time.
//!
//! Every script carries all the inputs needed to rebuild its image (file UIDs, versions and
//! download URLs, the actual time bins and energy edges, the background file and its time
//! range, the map centre, image and pixel size, the algorithm and its parameters, the
//! calibration and software versions) as one JSON document ([`ImageInputs`]), and opens with
//! a warning that preview images are automatic.

mod render;

pub use render::{
    AnimationFrame, AnimationInputs, FileRef, ImageInputs, Observer, OverlayInputs, ScriptError,
    animation_python, idl_procedure, idl_procedure_name, image_python, overlay_python,
};
