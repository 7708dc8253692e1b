//! The community flare list: the shipped `flare_reference_locations.csv` parses with the
//! values written in it; header recognition; malformed lines give typed errors with the line.

use domain::policy::FlareOrigin;
use domain::policy::flare_list::{FlareListError, looks_like_flare_list, read_flare_list};
use domain::time_range::parse_utc;

fn reference_csv() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/stix/flare_reference_locations.csv"
    );
    std::fs::read_to_string(path).unwrap()
}

const HEADER: &str = "file_request_id_used,flare_id,start_UTC,end_UTC,peak_UTC,4-10 keV,10-15 keV,15-25 keV,25-50 keV,50-84 keV,att_in,bkg 4-10 keV,hpc_x_solo,hpc_y_solo,hgs_lon,hgs_lat,GOES_class_time_of_flare";
const GOOD: &str = "2211134748,2211130649,2022-11-13T06:46:31.955,2022-11-13T06:57:07.956,2022-11-13T06:49:39.955,2175,271,115,799,431,False,303.0,,,,,C1.2";

#[test]
fn the_reference_flare_list_parses() {
    let text = reference_csv();
    assert!(looks_like_flare_list(text.lines().next().unwrap()));
    let flares = read_flare_list(&text).unwrap();
    // The shipped file has six data rows (2022-11-09 ×2, -11, -12, -13 ×2).
    assert_eq!(
        flares.len(),
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count()
    );
    assert_eq!(flares.len(), 6);
    let m12 = flares.iter().find(|f| f.flare_id == "2211111136").unwrap();
    assert_eq!(m12.hpc_solo_arcsec, Some([824.768616, 144.524323]));
    assert_eq!(
        m12.hgs_lon_lat_deg,
        Some([10.79491330533751, 13.022954965189708])
    );
    assert_eq!(m12.goes_class.as_deref(), Some("M1.2"));
    assert_eq!(m12.request_uid.as_deref(), Some("2211116471"));
    assert_eq!(m12.start, parse_utc("2022-11-11T11:12:56.072").unwrap());
    assert_eq!(m12.peak, parse_utc("2022-11-11T11:36:56.074").unwrap());
    assert_eq!(m12.end, parse_utc("2022-11-11T12:10:12.077").unwrap());
    assert_eq!(
        m12.ql_peak_counts,
        [155647.0, 23551.0, 6399.0, 3199.0, 863.0]
    );
    assert!(!m12.attenuator_in);
    assert_eq!(m12.background_4_10_kev, Some(247.0));
    // Rows without a location have none.
    let c12 = flares.iter().find(|f| f.flare_id == "2211130649").unwrap();
    assert_eq!(c12.hpc_solo_arcsec, None);
    assert_eq!(c12.hgs_lon_lat_deg, None);
    // The id is the peak's YYMMDDHHMM for every row of the list.
    for f in &flares {
        assert_eq!(f.peak.format("%y%m%d%H%M").to_string(), f.flare_id);
        assert!(f.start <= f.peak && f.peak <= f.end);
    }
    let w = m12.window();
    assert_eq!(w.range, m12.range());
    assert_eq!(w.peak, Some(m12.peak));
    assert_eq!(
        w.origin,
        FlareOrigin::Listed {
            request_uid: Some("2211116471".into())
        }
    );
}

#[test]
fn recognises_the_header_only() {
    assert!(looks_like_flare_list(HEADER));
    assert!(looks_like_flare_list(&format!("\u{feff}{HEADER}")));
    assert!(!looks_like_flare_list("SIMPLE  =                    T"));
    assert!(!looks_like_flare_list(GOOD));
    assert!(!looks_like_flare_list("flare_id,start_UTC,end_UTC"));
}

#[test]
fn extra_reordered_and_quoted_columns_are_fine() {
    let text = "\"GOES_class_time_of_flare\",peak_UTC,start_UTC,end_UTC,flare_id,4-10 keV,10-15 keV,15-25 keV,25-50 keV,50-84 keV,att_in,comment\n\
                \"M1.2\",2022-11-11T11:36:56.074,2022-11-11T11:12:56.072,2022-11-11T12:10:12.077,2211111136,155647,23551,6399,3199,863,True,\"big, bright\"\n";
    let flares = read_flare_list(text).unwrap();
    assert_eq!(flares.len(), 1);
    assert_eq!(flares[0].goes_class.as_deref(), Some("M1.2"));
    assert!(flares[0].attenuator_in);
    assert_eq!(flares[0].request_uid, None);
    assert_eq!(flares[0].background_4_10_kev, None);
    assert_eq!(flares[0].hpc_solo_arcsec, None);
}

fn with_line(bad: &str) -> String {
    format!("{HEADER}\n{GOOD}\n{bad}\n")
}

#[test]
fn malformed_lines_are_typed_errors_with_the_line() {
    let bad_time = GOOD.replace("2022-11-13T06:49:39.955", "2022-11-13T26:49:39");
    assert!(matches!(
        read_flare_list(&with_line(&bad_time)),
        Err(FlareListError::BadTime { line: 3, ref column, .. }) if column == "peak_UTC"
    ));
    let bad_number = GOOD.replace(",2175,", ",lots,");
    assert!(matches!(
        read_flare_list(&with_line(&bad_number)),
        Err(FlareListError::BadNumber { line: 3, ref column, ref value }) if column == "4-10 keV" && value == "lots"
    ));
    let bad_flag = GOOD.replace(",False,", ",maybe,");
    assert!(matches!(
        read_flare_list(&with_line(&bad_flag)),
        Err(FlareListError::BadFlag { line: 3, .. })
    ));
    let short = GOOD.rsplit_once(',').unwrap().0;
    assert_eq!(
        read_flare_list(&with_line(short)),
        Err(FlareListError::FieldCount {
            line: 3,
            expected: 17,
            found: 16
        })
    );
    let reversed = GOOD.replace("2022-11-13T06:57:07.956", "2022-11-13T06:40:00");
    assert!(matches!(
        read_flare_list(&with_line(&reversed)),
        Err(FlareListError::TimeOrder { line: 3, .. })
    ));
    let half = GOOD.replace(",303.0,,,,,", ",303.0,824.7,,,,");
    assert!(matches!(
        read_flare_list(&with_line(&half)),
        Err(FlareListError::HalfLocation { line: 3, ref missing, .. }) if missing == "hpc_y_solo"
    ));
    let no_id = GOOD.replace(",2211130649,", ",,");
    assert!(matches!(
        read_flare_list(&with_line(&no_id)),
        Err(FlareListError::MissingValue { line: 3, ref column }) if column == "flare_id"
    ));
    let unclosed = GOOD.replace(",C1.2", ",\"C1.2");
    assert_eq!(
        read_flare_list(&with_line(&unclosed)),
        Err(FlareListError::UnclosedQuote { line: 3 })
    );
    // Blank lines are skipped but still counted.
    let text = format!("{HEADER}\n\n{GOOD}\n\n{bad_flag}\n");
    assert!(matches!(
        read_flare_list(&text),
        Err(FlareListError::BadFlag { line: 5, .. })
    ));
    // Errors read as sentences with the line number.
    let msg = read_flare_list(&with_line(&bad_number))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 3") && msg.contains("lots"), "{msg}");
}

#[test]
fn header_problems_are_typed_errors() {
    assert_eq!(read_flare_list(""), Err(FlareListError::Empty));
    assert_eq!(read_flare_list("\n  \n"), Err(FlareListError::Empty));
    let no_peak = HEADER.replace("peak_UTC", "peak");
    assert_eq!(
        read_flare_list(&no_peak),
        Err(FlareListError::MissingColumn {
            column: "peak_UTC".into()
        })
    );
    let half = HEADER.replace(",hpc_y_solo", ",y");
    assert_eq!(
        read_flare_list(&half),
        Err(FlareListError::MissingColumn {
            column: "hpc_y_solo".into()
        })
    );
    // A header alone is an empty list.
    assert_eq!(read_flare_list(HEADER), Ok(vec![]));
}
