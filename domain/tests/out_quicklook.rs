//! PNG quick-looks decoded back: size, non-empty content (many colours, a filled plot, text
//! in the title band), the brightest screen pixel at the HPC position of the map's peak
//! (via `coords::Attitude`, within 1.5 map pixels), FWDFIT markers where the sources are,
//! typed errors and no file for impossible options.
//! Set `STIX_QUICKLOOK_DIR` to keep copies of the PNGs for a look.

mod out_common;

use domain::coords::Attitude;
use domain::imaging::Reconstruction;
use domain::output::OutputError;
use domain::output::quicklook::{PlotRect, PngCompression, QuicklookOptions, write_quicklook_png};
use out_common::*;
use std::path::Path;

struct Decoded {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Decoded {
    fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

fn decode(path: &Path) -> Decoded {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Decoded {
        width: info.width as usize,
        height: info.height as usize,
        rgb: buf,
    }
}

fn write(
    name: &str,
    rec: &Reconstruction,
    opts: &QuicklookOptions,
) -> (tempfile::TempDir, Decoded) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    write_quicklook_png(&path, rec, &reference_meta(), opts).unwrap();
    if let Ok(keep) = std::env::var("STIX_QUICKLOOK_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&path, Path::new(&keep).join(name)).unwrap();
    }
    let d = decode(&path);
    (dir, d)
}

fn attitude() -> Attitude {
    Attitude {
        roll_deg: ROLL_DEG,
        pointing_arcsec: POINTING_ARCSEC,
    }
}

/// Screen pixel → HPC (centre of the pixel), for a map of n·Δ field of view.
fn screen_to_hpc(rect: PlotRect, fov: f64, x: usize, y: usize) -> [f64; 2] {
    let s = fov / rect.side_px as f64;
    [
        CENTER_HPC_ARCSEC[0] - fov / 2.0 + (x - rect.left_px) as f64 * s + s / 2.0,
        CENTER_HPC_ARCSEC[1] + fov / 2.0 - (y - rect.top_px) as f64 * s - s / 2.0,
    ]
}

fn hpc_to_screen(rect: PlotRect, fov: f64, p: [f64; 2]) -> [f64; 2] {
    let s = rect.side_px as f64 / fov;
    [
        rect.left_px as f64 + (p[0] - CENTER_HPC_ARCSEC[0] + fov / 2.0) * s,
        rect.top_px as f64 + (CENTER_HPC_ARCSEC[1] + fov / 2.0 - p[1]) * s,
    ]
}

fn luminance(c: [u8; 3]) -> f64 {
    0.2126 * f64::from(c[0]) + 0.7152 * f64::from(c[1]) + 0.0722 * f64::from(c[2])
}

fn is_marker(c: [u8; 3]) -> bool {
    c[0] < 120 && c[1] > 150 && c[2] > 180
}

#[test]
fn clean_quicklook_shows_the_peak_where_it_is_on_the_sky() {
    let (n, pixel) = (129, 2.0);
    let peak = (40, 90); // (iy, ix)
    let rec = clean_reconstruction(n, pixel, peak);
    let opts = QuicklookOptions::default();
    let (_dir, img) = write("clean.png", &rec, &opts);
    assert_eq!((img.width, img.height), (640, 560));

    let rect = opts.plot_rect().unwrap();
    let mut colours = std::collections::HashSet::new();
    let mut filled = 0usize;
    let mut best = (0.0, 0, 0);
    for y in rect.top_px..rect.top_px + rect.side_px {
        for x in rect.left_px..rect.left_px + rect.side_px {
            let c = img.px(x, y);
            colours.insert(c);
            if c != [255, 255, 255] {
                filled += 1;
            }
            let l = luminance(c);
            if l > best.0 {
                best = (l, x, y);
            }
        }
    }
    assert!(
        colours.len() > 150,
        "only {} colours in the plot",
        colours.len()
    );
    assert!(filled as f64 > 0.99 * (rect.side_px * rect.side_px) as f64);
    // Text in the title band and in the left/bottom margins.
    let dark = |x0: usize, x1: usize, y0: usize, y1: usize| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| luminance(img.px(x, y)) < 100.0)
            .count()
    };
    assert!(dark(0, img.width, 0, 45) > 300, "no title");
    assert!(dark(0, rect.left_px - 8, rect.top_px, rect.top_px + rect.side_px) > 200);
    assert!(
        dark(
            rect.left_px,
            rect.left_px + rect.side_px,
            rect.top_px + rect.side_px + 8,
            img.height
        ) > 200
    );

    // Inferno is monotonic in luminance: the brightest screen pixel is the map's peak.
    let fov = n as f64 * pixel;
    let got = screen_to_hpc(rect, fov, best.1, best.2);
    let g = domain::imaging::ImageGrid {
        n,
        pixel_arcsec: pixel,
    };
    let expected = attitude().stix_to_hpc([
        CENTER_STIX_ARCSEC[0] + g.offset_arcsec(peak.1),
        CENTER_STIX_ARCSEC[1] + g.offset_arcsec(peak.0),
    ]);
    let dist = (got[0] - expected[0]).hypot(got[1] - expected[1]);
    assert!(
        dist < 1.5 * pixel,
        "brightest screen pixel at HPC {got:?}, map peak at {expected:?} ({dist} arcsec)"
    );
    // The colorbar's top is the colormap's maximum (inferno ends in pale yellow).
    let top_bar = img.px(rect.left_px + rect.side_px + 20, rect.top_px + 1);
    assert!(
        top_bar[0] > 240 && top_bar[1] > 240 && top_bar[2] < 190,
        "{top_bar:?}"
    );
}

/// The fast encoder (user jobs) draws the same pixels as the default one (previews); only the
/// file size differs, and the default's file is the smaller.
#[test]
fn the_fast_encoder_writes_the_same_pixels() {
    let rec = clean_reconstruction(129, 2.0, (40, 90));
    let small = QuicklookOptions::default();
    assert_eq!(small.png_compression, PngCompression::Smaller);
    let fast = QuicklookOptions {
        png_compression: PngCompression::Faster,
        ..QuicklookOptions::default()
    };
    let (d1, a) = write("smaller.png", &rec, &small);
    let (d2, b) = write("faster.png", &rec, &fast);
    assert_eq!((a.width, a.height), (b.width, b.height));
    assert!(a.rgb == b.rgb, "the pixels differ");
    let size = |d: &tempfile::TempDir, n: &str| std::fs::metadata(d.path().join(n)).unwrap().len();
    let (s, f) = (size(&d1, "smaller.png"), size(&d2, "faster.png"));
    assert!(s < f, "default {s} bytes, fast {f} bytes");
}

#[test]
fn fwdfit_quicklook_marks_the_sources() {
    let (n, pixel) = (101, 1.5);
    let rec = fwdfit_reconstruction(n, pixel);
    let opts = QuicklookOptions::default();
    let (_dir, img) = write("fwdfit.png", &rec, &opts);
    assert_eq!((img.width, img.height), (640, 560));
    let rect = opts.plot_rect().unwrap();
    let fov = n as f64 * pixel;
    let scale = rect.side_px as f64 / fov;
    let near = |p: [f64; 2], r: i64| {
        let (cx, cy) = (p[0].floor() as i64, p[1].floor() as i64);
        (cy - r..=cy + r)
            .flat_map(|y| (cx - r..=cx + r).map(move |x| (x, y)))
            .filter(|&(x, y)| is_marker(img.px(x as usize, y as usize)))
            .count()
    };
    for s in &rec.fwdfit.as_ref().unwrap().sources {
        let hpc = attitude().stix_to_hpc([
            CENTER_STIX_ARCSEC[0] + s.offset_arcsec[0],
            CENTER_STIX_ARCSEC[1] + s.offset_arcsec[1],
        ]);
        let p = hpc_to_screen(rect, fov, hpc);
        assert!(near(p, 2) >= 5, "no cross at {p:?} for {}", s.shape);
        // The FWHM outline passes through centre ± minor/2 along the minor axis; for the
        // circle that is any direction.
        if s.shape == "circle" {
            let r = s.fwhm_arcsec / 2.0 * scale;
            assert!(near([p[0] + r, p[1]], 2) >= 2, "no FWHM circle");
            assert!(near([p[0], p[1] - r], 2) >= 2, "no FWHM circle");
            assert_eq!(
                near([p[0] + 2.0 * r, p[1]], 1),
                0,
                "marker colour away from the circle"
            );
        }
    }
    let markers = (0..img.height)
        .flat_map(|y| (0..img.width).map(move |x| (x, y)))
        .filter(|&(x, y)| is_marker(img.px(x, y)))
        .count();
    assert!(markers > 100, "{markers} marker pixels");
}

#[test]
fn other_sizes_and_bad_options() {
    let rec = clean_reconstruction(65, 4.0, (20, 30));
    let opts = QuicklookOptions {
        width_px: 900,
        height_px: 700,
        colormap: domain::output::quicklook::Colormap::Viridis,
        draw_limb: true,
        ..QuicklookOptions::default()
    };
    let (_dir, img) = write("viridis.png", &rec, &opts);
    assert_eq!((img.width, img.height), (900, 700));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let tiny = QuicklookOptions {
        width_px: 20,
        ..QuicklookOptions::default()
    };
    let e = write_quicklook_png(&path, &rec, &reference_meta(), &tiny).unwrap_err();
    assert!(matches!(e, OutputError::Invalid { .. }), "{e}");
    let mut bad = rec.clone();
    bad.map.data.fill(f64::NAN);
    let e = write_quicklook_png(&path, &bad, &reference_meta(), &QuicklookOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Issue #11 labels: the title says the times are UTC at Solar Orbiter, the description (the
/// third line drawn on the image) names the flare, the background file and the grade.
#[test]
fn labels_name_the_time_scale_flare_background_and_quality() {
    let rec = clean_reconstruction(65, 4.0, (20, 30));
    let mut meta = reference_meta();
    meta.earth_time_delta_seconds = Some(183.4);
    meta.background_file = Some("solo_bkg.fits".into());
    let quality = domain::quality::Quality {
        grade: domain::quality::Grade::Poor,
        reasons: vec!["peak 3″ from the field-of-view edge (< 13″)".into()],
        figures: Default::default(),
    };
    let opts = QuicklookOptions {
        flare_id: Some("2211111136".into()),
        quality: Some(quality),
        ..QuicklookOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.png");
    write_quicklook_png(&path, &rec, &meta, &opts).unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let reader = png::Decoder::new(file).read_info().unwrap();
    let texts: Vec<(String, String)> = reader
        .info()
        .utf8_text
        .iter()
        .map(|t| (t.keyword.clone(), t.get_text().unwrap()))
        .collect();
    let get = |k: &str| {
        texts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(
        get("Title").ends_with("UTC (at Solar Orbiter)"),
        "{texts:?}"
    );
    let d = get("Description");
    assert!(
        d.contains("flare 2211111136") && d.contains("solo_bkg.fits") && d.contains("POOR"),
        "{d}"
    );
}
