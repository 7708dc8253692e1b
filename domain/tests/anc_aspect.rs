//! The newer `solo_ANC_stix-asp-ephemeris_*` layout (`shared/docs/stix-imaging.md` section F),
//! tested on a synthetic ANC file written with fitsio from the rows of the real L2 file
//! `l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits`.
//!
//! No real ANC file is available here. The layout written below follows the producer and the
//! two readers of real ANC files:
//! - STIXCore `stixcore/products/ANC/aspect.py` (`AspectIDLProcessing.postprocessing`, class
//!   `Ephemeris`: level `ANC`, type `asp`, name `ephemeris`, STYPE/SSTYPE/SSID 0/0/1, daily
//!   file). Its DATA table is the L2 one with two columns added after `z_srf`: `sas_ok`
//!   (numpy bool, so a FITS logical `L` column, "0: not usable, 1: good") and `sas_error`
//!   (text). `time_utc` is `%Y-%m-%dT%H:%M:%S.%f` (`stixcore/processing/AspectANC.py`),
//!   `time`/`timedel` are uint32 centiseconds (`J` + TZERO), `timedel` = 0.
//! - STIX-GSW `stix/idl/io/stx_read_aux_fits.pro` reads `sas_ok` as logical (`'T'`/`'F'`)
//!   only when the column exists; `stx_create_auxiliary_data.pro` averages `y_srf`/`z_srf`
//!   over the `sas_ok` rows of the interval only.
//! - stixpy `stixpy/product/sources/anc.py` (the −32 s shift applies to ANC rows too) and
//!   `stixpy/coordinates/transforms.py get_hpc_info` (mean over the `sas_ok == 1` rows).

use domain::aspect::{AspectError, AspectFile, AspectSolution, PointingSource};
use domain::time_range::TimeRange;
use fitsio::FitsFile;
use fitsio::hdu::HduInfo;
use fitsio::tables::{ColumnDataType, ColumnDescription};
use std::path::{Path, PathBuf};

const M12: &str = "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271";
const ANC_NAME: &str = "solo_ANC_stix-asp-ephemeris_20221111_V02.fits";

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn l2_path() -> PathBuf {
    data_dir().join("l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits")
}

/// Every DATA column of the real L2 file, as stored (float32 values stay float32).
struct L2Table {
    date_beg: String,
    date_end: String,
    time_cs: Vec<u32>,
    time_utc: Vec<String>,
    control_index: Vec<i64>,
    spice_disc_size: Vec<f32>,
    y_srf: Vec<f32>,
    z_srf: Vec<f32>,
    lonlat: Vec<f32>,
    dist: Vec<f32>,
    heeq: Vec<f32>,
    rpy: Vec<f32>,
    control_rows: usize,
}

fn read_l2() -> L2Table {
    let mut f = FitsFile::open(l2_path()).unwrap();
    let prim = f.primary_hdu().unwrap();
    let date_beg: String = prim.read_key(&mut f, "DATE-BEG").unwrap();
    let date_end: String = prim.read_key(&mut f, "DATE-END").unwrap();
    let control = f.hdu("CONTROL").unwrap();
    let control_rows = match &control.info {
        HduInfo::TableInfo { num_rows, .. } => *num_rows,
        _ => panic!("CONTROL is not a table"),
    };
    let d = f.hdu("DATA").unwrap();
    L2Table {
        date_beg,
        date_end,
        time_cs: d.read_col(&mut f, "time").unwrap(),
        time_utc: d.read_col(&mut f, "time_utc").unwrap(),
        control_index: d.read_col(&mut f, "control_index").unwrap(),
        spice_disc_size: d.read_col(&mut f, "spice_disc_size").unwrap(),
        y_srf: d.read_col(&mut f, "y_srf").unwrap(),
        z_srf: d.read_col(&mut f, "z_srf").unwrap(),
        lonlat: d.read_col(&mut f, "solo_loc_carrington_lonlat").unwrap(),
        dist: d.read_col(&mut f, "solo_loc_carrington_dist").unwrap(),
        heeq: d.read_col(&mut f, "solo_loc_heeq_zxy").unwrap(),
        rpy: d.read_col(&mut f, "roll_angle_rpy").unwrap(),
        control_rows,
    }
}

impl L2Table {
    fn n(&self) -> usize {
        self.time_utc.len()
    }

    /// Indices of the rows whose time − 32 s lies in `range` (F.1–2), computed here with
    /// chrono directly rather than through the reader.
    fn rows_inside(&self, range: &str) -> Vec<usize> {
        let parse = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap()
                .and_utc()
        };
        let (a, b) = range.split_once('/').unwrap();
        let (a, b) = (parse(a), parse(b));
        (0..self.n())
            .filter(|&i| {
                let t = parse(&self.time_utc[i]) - chrono::Duration::seconds(32);
                t >= a && t <= b
            })
            .collect()
    }
}

/// A deliberate defect of the written file.
#[derive(Clone, Copy, Debug)]
enum Change {
    None,
    /// The column is left out.
    Drop(&'static str),
    /// A vector column written with this many values per row.
    Width(&'static str, usize),
    /// A numeric column written with this TUNIT.
    Unit(&'static str, &'static str),
    /// A numeric column written as text.
    AsText(&'static str),
    /// `sas_ok` written as a 16-bit integer 0/1 instead of a logical.
    SasOkAsShort,
}

/// What goes into the ANC file: the L2 rows plus a `sas_ok` flag, optionally edited.
struct Anc {
    sas_ok: Vec<bool>,
    y_srf: Vec<f32>,
    z_srf: Vec<f32>,
    change: Change,
}

impl Anc {
    fn from(l2: &L2Table) -> Self {
        Self {
            sas_ok: vec![true; l2.n()],
            y_srf: l2.y_srf.clone(),
            z_srf: l2.z_srf.clone(),
            change: Change::None,
        }
    }
}

/// One DATA column of the ANC layout: name, FITS type, values per row, TUNIT, TDIM.
struct Col {
    name: &'static str,
    typ: ColumnDataType,
    repeat: usize,
    unit: &'static str,
    tdim: bool,
}

/// STIXCore `Ephemeris` (ANC) DATA columns, in order.
const ANC_COLUMNS: [Col; 13] = [
    col("time", ColumnDataType::UnsignedLong, 1, "cs", false),
    col("timedel", ColumnDataType::UnsignedLong, 1, "cs", false),
    col("time_utc", ColumnDataType::String, 26, " ", false),
    col("control_index", ColumnDataType::LongLong, 1, " ", false),
    col("spice_disc_size", ColumnDataType::Float, 1, "arcsec", false),
    col("y_srf", ColumnDataType::Float, 1, "arcsec", false),
    col("z_srf", ColumnDataType::Float, 1, "arcsec", false),
    col("sas_ok", ColumnDataType::Logical, 1, " ", false),
    col("sas_error", ColumnDataType::String, 16, " ", false),
    col(
        "solo_loc_carrington_lonlat",
        ColumnDataType::Float,
        2,
        "deg",
        true,
    ),
    col(
        "solo_loc_carrington_dist",
        ColumnDataType::Float,
        1,
        "km",
        true,
    ),
    col("solo_loc_heeq_zxy", ColumnDataType::Float, 3, "km", true),
    col("roll_angle_rpy", ColumnDataType::Float, 3, "deg", true),
];

const fn col(
    name: &'static str,
    typ: ColumnDataType,
    repeat: usize,
    unit: &'static str,
    tdim: bool,
) -> Col {
    Col {
        name,
        typ,
        repeat,
        unit,
        tdim,
    }
}

/// Keeps `width` of every `repeat` values.
fn narrow(v: &[f32], repeat: usize, width: usize) -> Vec<f32> {
    v.chunks(repeat)
        .flat_map(|c| c.iter().take(width).copied())
        .collect()
}

/// Writes the ANC file into `dir` and returns its path.
fn write_anc(dir: &Path, l2: &L2Table, anc: &Anc) -> PathBuf {
    let path = dir.join(ANC_NAME);
    let _ = std::fs::remove_file(&path);
    let mut f = FitsFile::create(&path).open().unwrap();

    // PRIMARY: the keys stixpy's `Ephemeris.is_datasource_for` and STIXCore's writer set.
    let prim = f.primary_hdu().unwrap();
    prim.write_key(&mut f, "FILENAME", ANC_NAME).unwrap();
    prim.write_key(&mut f, "LEVEL", "ANC").unwrap();
    prim.write_key(&mut f, "CREATOR", "stixcore").unwrap();
    prim.write_key(&mut f, "STYPE", 0i64).unwrap();
    prim.write_key(&mut f, "SSTYPE", 0i64).unwrap();
    prim.write_key(&mut f, "SSID", 1i64).unwrap();
    prim.write_key(&mut f, "TIMESYS", "UTC").unwrap();
    prim.write_key(&mut f, "DATE-BEG", l2.date_beg.as_str())
        .unwrap();
    prim.write_key(&mut f, "DATE-END", l2.date_end.as_str())
        .unwrap();

    let control = f
        .create_table(
            "CONTROL",
            &[
                ColumnDescription::new("index")
                    .with_type(ColumnDataType::LongLong)
                    .create()
                    .unwrap(),
                ColumnDescription::new("parent")
                    .with_type(ColumnDataType::String)
                    .that_repeats(40)
                    .create()
                    .unwrap(),
            ],
        )
        .unwrap();
    let index: Vec<i64> = (0..l2.control_rows as i64).collect();
    control.write_col(&mut f, "index", &index).unwrap();
    let parent = vec!["solo_L1_stix-hk-maxi_20221111_V02.fits".to_string(); l2.control_rows];
    control.write_col(&mut f, "parent", &parent).unwrap();

    // DATA, with the requested defect.
    let mut descriptions = Vec::new();
    let mut written: Vec<(&Col, ColumnDataType, usize, &str)> = Vec::new();
    for c in &ANC_COLUMNS {
        let (mut typ, mut repeat, mut unit) = (c.typ, c.repeat, c.unit);
        match anc.change {
            Change::Drop(name) if name == c.name => continue,
            Change::Width(name, w) if name == c.name => repeat = w,
            Change::Unit(name, u) if name == c.name => unit = u,
            Change::AsText(name) if name == c.name => {
                typ = ColumnDataType::String;
                repeat = 16;
            }
            Change::SasOkAsShort if c.name == "sas_ok" => typ = ColumnDataType::Short,
            _ => {}
        }
        descriptions.push(
            ColumnDescription::new(c.name)
                .with_type(typ)
                .that_repeats(repeat)
                .create()
                .unwrap(),
        );
        written.push((c, typ, repeat, unit));
    }
    let data = f.create_table("DATA", &descriptions).unwrap();
    for (k, (c, _, repeat, unit)) in written.iter().enumerate() {
        data.write_key(&mut f, &format!("TUNIT{}", k + 1), *unit)
            .unwrap();
        if c.tdim {
            data.write_key(&mut f, &format!("TDIM{}", k + 1), format!("({repeat})"))
                .unwrap();
        }
    }
    for (c, typ, repeat, _) in &written {
        let floats = |v: &[f32]| narrow(v, c.repeat, *repeat);
        let name = c.name;
        if *typ == ColumnDataType::String && c.typ != ColumnDataType::String {
            // A numeric column deliberately written as text.
            let v: Vec<f32> = match name {
                "y_srf" => anc.y_srf.clone(),
                "z_srf" => anc.z_srf.clone(),
                "spice_disc_size" => l2.spice_disc_size.clone(),
                "sas_ok" => anc.sas_ok.iter().map(|&b| f32::from(u8::from(b))).collect(),
                _ => panic!("AsText not supported for {name}"),
            };
            let text: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
            data.write_col(&mut f, name, &text).unwrap();
            continue;
        }
        match name {
            "time" => {
                data.write_col(&mut f, name, &l2.time_cs).unwrap();
            }
            // STIXCore: "we have instantaneous data so the integration time is set to 0".
            "timedel" => {
                data.write_col(&mut f, name, &vec![0u32; l2.n()]).unwrap();
            }
            "time_utc" => {
                data.write_col(&mut f, name, &l2.time_utc).unwrap();
            }
            "control_index" => {
                data.write_col(&mut f, name, &l2.control_index).unwrap();
            }
            "sas_ok" if *typ == ColumnDataType::Logical => {
                write_logical(&mut f, &data, name, &anc.sas_ok);
            }
            "sas_ok" => {
                let v: Vec<i16> = anc.sas_ok.iter().map(|&b| i16::from(b)).collect();
                data.write_col(&mut f, name, &v).unwrap();
            }
            "sas_error" => {
                let v: Vec<String> = anc
                    .sas_ok
                    .iter()
                    .map(|&ok| if ok { "" } else { "NO_SOLUTION" }.to_string())
                    .collect();
                data.write_col(&mut f, name, &v).unwrap();
            }
            _ => {
                let v = match name {
                    "spice_disc_size" => &l2.spice_disc_size,
                    "y_srf" => &anc.y_srf,
                    "z_srf" => &anc.z_srf,
                    "solo_loc_carrington_lonlat" => &l2.lonlat,
                    "solo_loc_carrington_dist" => &l2.dist,
                    "solo_loc_heeq_zxy" => &l2.heeq,
                    "roll_angle_rpy" => &l2.rpy,
                    other => panic!("unknown column {other}"),
                };
                data.write_col(&mut f, name, &floats(v)).unwrap();
            }
        }
    }

    let idb = f
        .create_table(
            "IDB_VERSIONS",
            &[
                ColumnDescription::new("version")
                    .with_type(ColumnDataType::String)
                    .that_repeats(7)
                    .create()
                    .unwrap(),
                ColumnDescription::new("obt_start")
                    .with_type(ColumnDataType::Double)
                    .create()
                    .unwrap(),
                ColumnDescription::new("obt_end")
                    .with_type(ColumnDataType::Double)
                    .create()
                    .unwrap(),
            ],
        )
        .unwrap();
    idb.write_col(&mut f, "version", &["2.26.36".to_string()])
        .unwrap();
    idb.write_col(&mut f, "obt_start", &[721439910.2886702f64])
        .unwrap();
    idb.write_col(&mut f, "obt_end", &[721526245.6086671f64])
        .unwrap();
    drop(f);
    path
}

/// Writes a FITS logical (`L`) column. fitsio 0.21 has no writer for `bool`, so this calls
/// cfitsio's `ffpcll` (write logical values, 'T'/'F' as 1/0 chars) directly.
fn write_logical(f: &mut FitsFile, hdu: &fitsio::hdu::FitsHdu, name: &str, v: &[bool]) {
    let colno = match &hdu.info {
        HduInfo::TableInfo {
            column_descriptions,
            ..
        } => column_descriptions
            .iter()
            .position(|c| c.name == name)
            .unwrap(),
        _ => panic!("not a table"),
    };
    // Moving to the HDU by name makes it cfitsio's current HDU.
    f.hdu("DATA").unwrap();
    let mut values: Vec<std::os::raw::c_char> =
        v.iter().map(|&b| std::os::raw::c_char::from(b)).collect();
    let mut status = 0;
    // SAFETY: the file is open read-write with `hdu` current; `values` holds exactly `v.len()`
    // elements for rows 1..=v.len() of a scalar logical column, and outlives the call.
    unsafe {
        fitsio::sys::ffpcll(
            f.as_raw(),
            (colno + 1) as i32,
            1,
            1,
            values.len() as i64,
            values.as_mut_ptr(),
            &mut status,
        );
    }
    assert_eq!(status, 0, "ffpcll failed with status {status}");
}

fn range(text: &str) -> TimeRange {
    TimeRange::parse(text).unwrap()
}

fn l2_solution(text: &str) -> AspectSolution {
    AspectFile::read(&l2_path())
        .unwrap()
        .solution(&range(text))
        .unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn assert_pair(a: [f64; 2], b: [f64; 2], tol: f64, what: &str) {
    assert!(
        close(a[0], b[0], tol) && close(a[1], b[1], tol),
        "{what}: {a:?} vs {b:?}"
    );
}

/// Roll, rsun, observer and spacecraft pointing agree; pointing is compared by the caller.
fn assert_same_geometry(anc: &AspectSolution, l2: &AspectSolution) {
    assert!(close(anc.roll_deg, l2.roll_deg, 1e-9), "roll");
    assert!(
        close(anc.rsun_arcsec.unwrap(), l2.rsun_arcsec.unwrap(), 1e-9),
        "rsun"
    );
    assert_pair(
        anc.observer_lonlat_deg.unwrap(),
        l2.observer_lonlat_deg.unwrap(),
        1e-9,
        "observer",
    );
    assert_pair(
        anc.spacecraft_pointing_arcsec.unwrap(),
        l2.spacecraft_pointing_arcsec.unwrap(),
        1e-9,
        "spacecraft pointing",
    );
}

/// The M1.2 numbers of the independent reference (`reference/visibilities_20221111_M1.2.json`).
fn reference_aux() -> serde_json::Value {
    let text =
        std::fs::read_to_string(data_dir().join("reference/visibilities_20221111_M1.2.json"))
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["time_range"][0]
                .as_str()
                .unwrap()
                .starts_with("2022-11-11T11:36:40.271")
                && c["time_range"][1]
                    .as_str()
                    .unwrap()
                    .starts_with("2022-11-11T11:37:40.271")
        })
        .expect("M1.2 case in the reference")
        .clone();
    case["aux"].clone()
}

#[test]
fn written_file_has_the_anc_layout() {
    let l2 = read_l2();
    let dir = tempfile::tempdir().unwrap();
    let path = write_anc(dir.path(), &l2, &Anc::from(&l2));
    let mut f = FitsFile::open(&path).unwrap();
    let prim = f.primary_hdu().unwrap();
    assert_eq!(prim.read_key::<String>(&mut f, "LEVEL").unwrap(), "ANC");
    let d = f.hdu("DATA").unwrap();
    let HduInfo::TableInfo {
        column_descriptions,
        num_rows,
    } = &d.info
    else {
        panic!("DATA is not a table")
    };
    assert_eq!(*num_rows, l2.n());
    let names: Vec<&str> = column_descriptions
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ANC_COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>()
    );
    let sas = column_descriptions
        .iter()
        .find(|c| c.name == "sas_ok")
        .unwrap();
    assert_eq!(sas.data_type.typ, ColumnDataType::Logical);
    // cfitsio stores uint32 as J with TZERO = 2^31, as the L2/ANC files do.
    assert_eq!(d.read_key::<String>(&mut f, "TFORM1").unwrap(), "1J");
    assert_eq!(d.read_key::<i64>(&mut f, "TZERO1").unwrap(), 2_147_483_648);
    let time: Vec<u32> = d.read_col(&mut f, "time").unwrap();
    assert_eq!(time, l2.time_cs);
    let ok: Vec<bool> = d.read_col(&mut f, "sas_ok").unwrap();
    assert!(ok.iter().all(|&b| b));
    let y: Vec<f32> = d.read_col(&mut f, "y_srf").unwrap();
    assert_eq!(y, l2.y_srf);
}

#[test]
fn anc_file_gives_the_l2_solution() {
    let l2 = read_l2();
    let dir = tempfile::tempdir().unwrap();
    let path = write_anc(dir.path(), &l2, &Anc::from(&l2));
    let anc = AspectFile::read(&path).unwrap();
    assert_eq!(anc.n_rows(), l2.n());
    assert_eq!(anc.file_name, ANC_NAME);
    // The M1.2 interval (averaged rows), a 10 s interval between rows (interpolated) and a
    // whole hour.
    for text in [
        M12,
        "2022-11-11T11:36:41/2022-11-11T11:36:51",
        "2022-11-11T11:00:00/2022-11-11T12:00:00",
    ] {
        let a = anc.solution(&range(text)).unwrap();
        let b = l2_solution(text);
        assert_same_geometry(&a, &b);
        assert_eq!(a.pointing_source, PointingSource::Sas, "{text}");
        assert_eq!(a.pointing_source, b.pointing_source, "{text}");
        assert_pair(a.pointing_arcsec, b.pointing_arcsec, 1e-9, text);
        assert_eq!(a.rows_averaged, b.rows_averaged, "{text}");
        assert_eq!(a.aux_file.as_deref(), Some(ANC_NAME));
    }
    // And the M1.2 solution is the independent reference's.
    let r = reference_aux();
    let a = anc.solution(&range(M12)).unwrap();
    assert_eq!(a.rows_averaged as u64, r["n"].as_u64().unwrap());
    assert!(close(a.roll_deg, r["roll"].as_f64().unwrap(), 1e-6));
    for k in 0..2 {
        assert!(close(
            a.pointing_arcsec[k],
            r["pointing"][k].as_f64().unwrap(),
            1e-4
        ));
    }
}

#[test]
fn sas_ok_false_on_the_interval_rows_falls_back_to_the_spacecraft_pointing() {
    let l2 = read_l2();
    let inside = l2.rows_inside(M12);
    assert!(!inside.is_empty());
    let mut spec = Anc::from(&l2);
    for &i in &inside {
        spec.sas_ok[i] = false;
    }
    let dir = tempfile::tempdir().unwrap();
    let anc = AspectFile::read(&write_anc(dir.path(), &l2, &spec)).unwrap();
    let a = anc.solution(&range(M12)).unwrap();
    let b = l2_solution(M12);
    assert_same_geometry(&a, &b);
    assert_eq!(a.pointing_source, PointingSource::Spacecraft);
    assert_eq!(a.pointing_source.to_string(), "spacecraft");
    assert_pair(
        a.pointing_arcsec,
        b.spacecraft_pointing_arcsec.unwrap(),
        1e-9,
        "fallback pointing",
    );
    // The fallback is the reference's spacecraft pointing, which differs from its SAS pointing.
    let r = reference_aux();
    for k in 0..2 {
        assert!(close(
            a.pointing_arcsec[k],
            r["sc_pointing"][k].as_f64().unwrap(),
            1e-4
        ));
    }
    let shift = (a.pointing_arcsec[0] - b.pointing_arcsec[0])
        .hypot(a.pointing_arcsec[1] - b.pointing_arcsec[1]);
    assert!(shift > 1.0, "SAS and spacecraft pointing differ: {shift}″");
    // The flag is per row: a neighbouring hour, untouched, still uses SAS.
    let later = anc
        .solution(&range("2022-11-11T13:00:00/2022-11-11T13:05:00"))
        .unwrap();
    assert_eq!(later.pointing_source, PointingSource::Sas);
    // Interpolation between a flagged row and a good one falls back too (GSW: both must be ok).
    let between = anc
        .solution(&range("2022-11-11T11:36:41/2022-11-11T11:36:51"))
        .unwrap();
    assert_eq!(between.rows_averaged, 0);
    assert_eq!(between.pointing_source, PointingSource::Spacecraft);
}

/// GSW `stx_create_auxiliary_data.pro` and stixpy `get_hpc_info` average `y_srf`/`z_srf` over
/// the `sas_ok` rows of the interval only; flagged rows may hold garbage.
#[test]
fn partly_flagged_interval_averages_only_the_good_rows() {
    let l2 = read_l2();
    let hour = "2022-11-11T11:00:00/2022-11-11T12:00:00";
    let inside = l2.rows_inside(hour);
    assert!(inside.len() > 10);
    let mut spec = Anc::from(&l2);
    let mut good = Vec::new();
    for (k, &i) in inside.iter().enumerate() {
        if k % 3 == 1 {
            spec.sas_ok[i] = false;
            spec.y_srf[i] = 1.0e8;
            spec.z_srf[i] = f32::NAN;
        } else {
            good.push(i);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let anc = AspectFile::read(&write_anc(dir.path(), &l2, &spec)).unwrap();
    let a = anc.solution(&range(hour)).unwrap();
    let b = l2_solution(hour);
    assert_same_geometry(&a, &b);
    assert_eq!(a.rows_averaged, inside.len());
    assert_eq!(a.pointing_source, PointingSource::Sas);
    // F.4 on the mean of the good rows, computed here from the raw values.
    let mean = |v: &[f32]| good.iter().map(|&i| f64::from(v[i])).sum::<f64>() / good.len() as f64;
    let expected = [mean(&l2.y_srf) + 60.0, -mean(&l2.z_srf) + 8.0];
    assert_pair(a.pointing_arcsec, expected, 1e-9, "SAS over good rows");
    assert_pair(
        a.sas_pointing_arcsec.unwrap(),
        expected,
        1e-9,
        "reported SAS",
    );
    // The stable pointing makes this close to the all-rows mean of the L2 file.
    assert_pair(a.pointing_arcsec, b.pointing_arcsec, 1.0, "near the L2 SAS");
}

#[test]
fn sas_ok_as_integer_column_is_accepted() {
    let l2 = read_l2();
    let inside = l2.rows_inside(M12);
    let mut spec = Anc::from(&l2);
    spec.change = Change::SasOkAsShort;
    for &i in &inside {
        spec.sas_ok[i] = false;
    }
    let dir = tempfile::tempdir().unwrap();
    let anc = AspectFile::read(&write_anc(dir.path(), &l2, &spec)).unwrap();
    assert_eq!(
        anc.solution(&range(M12)).unwrap().pointing_source,
        PointingSource::Spacecraft
    );
    let later = anc
        .solution(&range("2022-11-11T13:00:00/2022-11-11T13:05:00"))
        .unwrap();
    assert_eq!(later.pointing_source, PointingSource::Sas);
}

/// Without `sas_ok` (the older layout) every row counts as good, as in GSW
/// `stx_read_aux_fits.pro`.
#[test]
fn missing_sas_ok_is_the_older_layout() {
    let l2 = read_l2();
    let mut spec = Anc::from(&l2);
    spec.change = Change::Drop("sas_ok");
    let dir = tempfile::tempdir().unwrap();
    let anc = AspectFile::read(&write_anc(dir.path(), &l2, &spec)).unwrap();
    let a = anc.solution(&range(M12)).unwrap();
    let b = l2_solution(M12);
    assert_eq!(a.pointing_source, PointingSource::Sas);
    assert_pair(a.pointing_arcsec, b.pointing_arcsec, 1e-9, "pointing");
}

#[test]
fn missing_or_wrong_columns_are_typed_errors_naming_them() {
    let l2 = read_l2();
    let cases = [
        Change::Drop("time_utc"),
        Change::Drop("spice_disc_size"),
        Change::Drop("y_srf"),
        Change::Drop("z_srf"),
        Change::Drop("roll_angle_rpy"),
        Change::Width("roll_angle_rpy", 2),
        Change::Width("solo_loc_carrington_lonlat", 3),
        Change::Unit("roll_angle_rpy", "rad"),
        Change::Unit("y_srf", "deg"),
        Change::AsText("y_srf"),
        Change::AsText("spice_disc_size"),
        Change::AsText("sas_ok"),
    ];
    for change in cases {
        let column = match change {
            Change::Drop(c) | Change::Width(c, _) | Change::Unit(c, _) | Change::AsText(c) => c,
            _ => unreachable!(),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut spec = Anc::from(&l2);
        spec.change = change;
        let path = write_anc(dir.path(), &l2, &spec);
        match AspectFile::read(&path) {
            Err(e @ AspectError::Column { .. }) => {
                let AspectError::Column { column: named, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(named, column, "{change:?}: {e}");
                let msg = e.to_string();
                assert!(msg.contains(column), "{change:?}: {msg}");
                assert!(msg.contains(ANC_NAME), "{change:?}: {msg}");
            }
            other => panic!("{change:?}: expected a column error, got {other:?}"),
        }
    }
}

/// The column checks accept every real (L2) aspect file shipped in `data/stix/l1/`.
#[test]
fn column_checks_accept_every_real_aspect_file() {
    let mut seen = 0;
    for entry in std::fs::read_dir(data_dir().join("l1")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("stix-aux-ephemeris") {
            let aux = AspectFile::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(aux.n_rows() > 1000, "{name}: {} rows", aux.n_rows());
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
}
