//! What a STIX file name says (`shared/docs/stix-imaging.md` A.1): the product version
//! (`_V01_`, `_V02U_`, default 1) and, for daily aspect files, the day (`_20221109_`).

use chrono::{DateTime, NaiveDate, Utc};

/// The name without its `.fits` / `.fits.gz` / `.fit` / `.fts` extension.
fn stem(file_name: &str) -> &str {
    let lower = file_name.to_ascii_lowercase();
    for ext in [".fits.gz", ".fits", ".fit", ".fts"] {
        if lower.ends_with(ext) {
            return &file_name[..file_name.len() - ext.len()];
        }
    }
    file_name
}

/// The product version from a `_Vnn` or `_VnnU` token of the name (A.1); 1 when absent.
pub fn version_from_name(file_name: &str) -> i32 {
    stem(file_name)
        .split('_')
        .filter_map(|tok| {
            let digits = tok.strip_prefix('V')?;
            let digits = digits.strip_suffix('U').unwrap_or(digits);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i32>().ok()
        })
        .next_back()
        .unwrap_or(1)
}

/// The day of a daily file from an 8-digit `YYYYMMDD` token of the name, as the UTC midnight.
pub fn day_from_name(file_name: &str) -> Option<DateTime<Utc>> {
    stem(file_name)
        .split('_')
        .filter(|tok| tok.len() == 8 && tok.bytes().all(|b| b.is_ascii_digit()))
        .find_map(|tok| NaiveDate::parse_from_str(tok, "%Y%m%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_days() {
        let cpd =
            "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
        assert_eq!(version_from_name(cpd), 1);
        assert_eq!(
            version_from_name(
                "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V02U_2211116471-54717.fits"
            ),
            2
        );
        assert_eq!(
            version_from_name("solo_L2_stix-aux-ephemeris_20221109_V03.fits"),
            3
        );
        assert_eq!(version_from_name("something.fits"), 1);
        assert_eq!(version_from_name("x_Vxx_y.fits"), 1);
        let day = day_from_name("solo_L2_stix-aux-ephemeris_20221109_V01.fits");
        assert_eq!(
            day.map(|d| d.to_rfc3339()),
            Some("2022-11-09T00:00:00+00:00".into())
        );
        assert_eq!(day_from_name(cpd), None);
    }
}
