//! Cooperative cancellation of a reconstruction, without async: the caller hands the
//! algorithms a [`CancelCheck`] (for example one reading an `AtomicBool` its job runner
//! sets); MEM, EM and FWDFIT ask it between iterations and stop early, and
//! [`super::reconstruct_cancellable`] then answers [`super::ImagingError::Cancelled`].

/// Asked between iterations: `true` means stop now. Called from rayon threads (`Sync`).
pub type CancelCheck<'a> = &'a (dyn Fn() -> bool + Sync);

/// A check that never cancels.
pub fn never() -> bool {
    false
}
