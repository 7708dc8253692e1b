//! Products written to disk: FITS maps that sunpy places on the sky, PNG quick-looks
//! (`shared/docs/stix-imaging.md` section F).
