//! FITS writer checks that need no Python: pixel data round-trips with FITS axis 1 = ix,
//! the WCS keys are those of section F computed independently here, bad inputs give typed
//! errors and leave nothing on disk, an existing file is replaced atomically.

mod out_common;

use domain::imaging::Algorithm;
use domain::output::fits_map::write_map_fits;
use domain::output::{OutputError, Provenance};
use ndarray::Array2;
use out_common::*;

fn read_f64(f: &mut fitsio::FitsFile, key: &str) -> f64 {
    f.primary_hdu().unwrap().read_key::<f64>(f, key).unwrap()
}

fn read_str(f: &mut fitsio::FitsFile, key: &str) -> String {
    f.primary_hdu().unwrap().read_key::<String>(f, key).unwrap()
}

#[test]
fn pixels_and_wcs_keys_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bp.fits");
    let mut rec = clean_reconstruction(64, 3.0, (10, 50));
    rec.algorithm = Algorithm::Bp;
    rec.clean = None;
    // Make every pixel distinct so a transposition would show.
    rec.map.data = Array2::from_shape_fn((64, 64), |(iy, ix)| (iy * 1000 + ix) as f64 + 0.25);
    write_map_fits(&path, &rec, &reference_meta(), &Provenance::default()).unwrap();

    let mut f = fitsio::FitsFile::open(&path).unwrap();
    let hdu = f.primary_hdu().unwrap();
    let img: ndarray::ArrayD<f64> = hdu.read_image(&mut f).unwrap();
    assert_eq!(img.shape(), &[64, 64]);
    assert_eq!(img[[10, 50]], 10_050.25);
    assert_eq!(img[[63, 0]], 63_000.25);
    assert_eq!(hdu.read_key::<i64>(&mut f, "NAXIS1").unwrap(), 64);
    assert_eq!(read_str(&mut f, "CTYPE1"), "HPLN-TAN");
    assert_eq!(read_str(&mut f, "CTYPE2"), "HPLT-TAN");
    assert_eq!(read_f64(&mut f, "CRPIX1"), 32.5);
    assert_eq!(read_f64(&mut f, "CDELT2"), 3.0);
    // CRVAL = reference HPC of the map centre (independent numbers of the reference JSON).
    assert!((read_f64(&mut f, "CRVAL1") - CENTER_HPC_ARCSEC[0]).abs() < 1e-6);
    assert!((read_f64(&mut f, "CRVAL2") - CENTER_HPC_ARCSEC[1]).abs() < 1e-6);
    let theta = (90.0 + ROLL_DEG).to_radians();
    assert!((read_f64(&mut f, "PC1_1") - theta.cos()).abs() < 1e-14);
    assert!((read_f64(&mut f, "PC1_2") + theta.sin()).abs() < 1e-14);
    assert!((read_f64(&mut f, "PC2_1") - theta.sin()).abs() < 1e-14);
    assert_eq!(read_str(&mut f, "ALG_USED"), "STX BP NATURAL");
    assert_eq!(read_str(&mut f, "TELESCOP"), "SOLO/STIX");
    assert_eq!(read_f64(&mut f, "RSUN_REF"), 695_700_000.0);
    for absent in ["CRLN_OBS", "CRLT_OBS", "CROTA2", "EXTNAME"] {
        assert!(
            hdu.read_key::<String>(&mut f, absent).is_err(),
            "{absent} present"
        );
    }
    // BP: no extensions.
    assert!(f.hdu(1).is_err());
}

#[test]
fn bad_inputs_give_typed_errors_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.fits");
    let meta = reference_meta();
    let good = clean_reconstruction(33, 2.0, (5, 5));

    let mut wrong_shape = good.clone();
    wrong_shape.map.data = Array2::zeros((33, 32));
    let mut bad_pixel = good.clone();
    bad_pixel.map.grid.pixel_arcsec = f64::NAN;
    let mut bad_residual = good.clone();
    if let Some(c) = bad_residual.clean.as_mut() {
        c.residual = Array2::zeros((3, 3));
    }
    let mut bad_time = meta.clone();
    bad_time.time_range.end = "2022-11-11T11:00:00".to_string();
    let mut bad_roll = meta.clone();
    bad_roll.map_wcs.roll_angle_deg = f64::INFINITY;
    let bad_extra = Provenance {
        extra: vec![("CRVAL1".to_string(), "0".to_string())],
        ..Provenance::default()
    };
    let p = Provenance::default();
    let cases: Vec<(&str, Result<(), OutputError>)> = vec![
        ("shape", write_map_fits(&path, &wrong_shape, &meta, &p)),
        ("pixel", write_map_fits(&path, &bad_pixel, &meta, &p)),
        ("residual", write_map_fits(&path, &bad_residual, &meta, &p)),
        ("time", write_map_fits(&path, &good, &bad_time, &p)),
        ("roll", write_map_fits(&path, &good, &bad_roll, &p)),
        ("extra", write_map_fits(&path, &good, &meta, &bad_extra)),
    ];
    for (what, r) in cases {
        match r {
            Err(OutputError::Invalid { reason, .. }) => eprintln!("{what}: {reason}"),
            other => panic!("{what}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A directory that does not exist: an error naming the file, nothing panics.
    let missing = dir.path().join("no/such/dir/x.fits");
    let e = write_map_fits(&missing, &good, &meta, &p).unwrap_err();
    assert!(e.to_string().contains("x.fits"), "{e}");
}

#[test]
fn existing_file_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.fits");
    std::fs::write(&path, b"old contents").unwrap();
    let rec = clean_reconstruction(33, 2.0, (5, 5));
    let extra = Provenance {
        extra: vec![("BOX_ID".to_string(), "flare-2211111136".to_string())],
        policy_id: Some("policy-v2".to_string()),
        ..Provenance::default()
    };
    write_map_fits(&path, &rec, &reference_meta(), &extra).unwrap();
    let mut f = fitsio::FitsFile::open(&path).unwrap();
    assert_eq!(read_str(&mut f, "BOX_ID"), "flare-2211111136");
    assert_eq!(read_str(&mut f, "PRV_POL"), "policy-v2");
    let comps = f.hdu("CLEAN_COMPONENTS").unwrap();
    let flux: Vec<f64> = comps.read_col(&mut f, "FLUX").unwrap();
    assert_eq!(flux, vec![12.5, 3.25, 1.0]);
    // Only the product remains: no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
