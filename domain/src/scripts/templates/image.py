#!/usr/bin/env python3
"""Reproduce STIX image {{IMAGE_ID}} ({{TITLE}}).

Written by {{SOFTWARE_VERSION}} from the image's provenance. Every input is in INPUTS below.

WARNING: preview images are made automatically, without human checking. They are not meant
for publication without checking: look at the data, the time and energy selection, the
background and the algorithm parameters yourself.

Usage:
    python script.py [--method fits|reproduce] [--out DIR]

  --method fits       download our FITS map and plot it with sunpy + matplotlib (the default)
  --method reproduce  download the signal, background and aspect L1/L2 files, rebuild the image
                      with stixpy + xrayvision (BP, CLEAN, MEM, EM) and draw it beside our FITS;
                      prints the Pearson correlation and the peak pixels as JSON. The ELUT
                      edge correction follows the image (INPUTS["elut_file"]; null: off)
  --out DIR           where downloads and plots go (default: current directory)

Needs: sunpy, matplotlib (fits); plus stixpy and xrayvision (`pip install stixpy xrayvisim`)
for reproduce. VIS_FWDFIT has no Python peer: for it, reproduce says so and falls back to fits.
"""

import argparse
import hashlib
import json
import os
import sys
import urllib.request

INPUTS = json.loads({{INPUTS_JSON}})


def download(url, out_dir, name, sha256=None):
    """Fetches url into out_dir/name once (kept when the SHA-256 already matches)."""
    path = os.path.join(out_dir, name)
    if os.path.exists(path) and sha256 and _sha256(path) == sha256:
        return path
    tmp = path + ".part"
    with urllib.request.urlopen(url) as resp, open(tmp, "wb") as out:
        while True:
            chunk = resp.read(1 << 16)
            if not chunk:
                break
            out.write(chunk)
    if sha256 and _sha256(tmp) != sha256:
        os.remove(tmp)
        raise SystemExit(f"{name}: checksum mismatch after download from {url}")
    os.replace(tmp, path)
    return path


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _pyplot():
    import matplotlib

    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def our_map(out_dir):
    """Our FITS map, opened with the plain sunpy call."""
    import sunpy.map

    path = download(INPUTS["fits_url"], out_dir, INPUTS["fits_file_name"], INPUTS["fits_sha256"])
    return path, sunpy.map.Map(path)


def method_fits(out_dir):
    plt = _pyplot()
    path, m = our_map(out_dir)
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection=m)
    m.plot(axes=ax, cmap="inferno")
    m.draw_limb(axes=ax)
    ax.set_title(_title())
    fig.colorbar(ax.images[0], ax=ax, label=str(m.unit))
    png = os.path.join(out_dir, os.path.splitext(INPUTS["fits_file_name"])[0] + "_sunpy.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print(json.dumps({"method": "fits", "fits": path, "png": png}))
    return png


def _title():
    e = INPUTS["energy_range_kev"]
    t = INPUTS["time_range_utc"]
    return f"STIX {INPUTS['algorithm']} {e[0]:g}-{e[1]:g} keV {t[0]} - {t[1][11:]}"


def _ephemeris_from(aux_path):
    """stixpy reads pointing/ephemeris through a network search; feed it our aspect file."""
    import astropy.units as u
    from astropy.io import fits
    from astropy.table import QTable
    from astropy.time import Time

    import stixpy.coordinates.transforms as transforms

    def ephemeris(start_time, end_time=None):
        aux = QTable.read(aux_path, hdu=2)
        # Same convention as stixpy's reader: bin start + time - half a 64 s bin.
        begin = Time(fits.getheader(aux_path, ext=0).get("DATE-BEG"))
        aux["time"] = begin + aux["time"] - 32 * u.s
        aux.sort(keys=["time"])
        return aux

    transforms._get_ephemeris_data = ephemeris


def _stixpy_elut_file(date):
    """The ELUT table stixpy picks for date (its own index), or None when that cannot be told."""
    try:
        from pathlib import Path

        import stixpy
        from stixpy.io.readers import read_elut_index

        index = Path(stixpy.__file__).parent / "config" / "data" / "elut" / "elut_index.csv"
        rows = list(read_elut_index(index).at(date))
        return Path(str(rows[0][-1])).name if len(rows) == 1 else None
    except Exception:  # an older or newer stixpy layout: the check is advisory
        return None


def _follow_elut_choice(date):
    """Makes stixpy's ELUT edge correction (stix-imaging.md B) follow the image's choice.

    stixpy always corrects the first and last energy group of each pixel with the ELUT of the
    date; the archive records per image whether it did (INPUTS["elut_file"], FITS key ELUT).
    Returns the table stixpy applies, or "none".
    """
    import numpy as np

    import stixpy.calibration.visibility as visibility

    wanted = INPUTS.get("elut_file")
    if not hasattr(visibility, "get_elut_correction"):
        if wanted:
            print(f"this stixpy has no ELUT correction; the image used {wanted}", file=sys.stderr)
        return "none"
    if not wanted:
        def no_correction(e_ind, pixel_data):
            ones = np.ones((32, 12))
            return ones, ones

        visibility.get_elut_correction = no_correction
        return "none"
    used = _stixpy_elut_file(date)
    if used and used != wanted:
        print(f"stixpy picks ELUT {used} for {date}, the image used {wanted}", file=sys.stderr)
    return used or wanted


def reproduce_array(out_dir):
    """Rebuilds the image with stixpy + xrayvision; returns (array, our map, fits path)."""
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import SkyCoord
    from astropy.time import Time
    from sunpy.coordinates import HeliographicStonyhurst
    from sunpy.time import TimeRange

    from stixpy.calibration.visibility import calibrate_visibility, create_meta_pixels, create_visibility
    from stixpy.coordinates.frames import STIXImaging
    from stixpy.product import Product

    files = {}
    for role in ("science", "background", "aspect"):
        f = INPUTS.get(role)
        if f:
            files[role] = download(f["url"], out_dir, f["file_name"], f["sha256"])
    if "aspect" in files:
        _ephemeris_from(files["aspect"])
    fits_path, ours = our_map(out_dir)

    elut_used = _follow_elut_choice(Time(INPUTS["time_range_utc"][0]))
    band = INPUTS["energy_range_kev"] * u.keV
    # The actual bins we used: stixpy keeps every bin touching the interval, so ask for a
    # range just inside the first and last bin edges.
    eps = 0.1 * u.s
    t0, t1 = Time(INPUTS["time_range_utc"][0]), Time(INPUTS["time_range_utc"][1])
    sci = create_meta_pixels(Product(files["science"]), time_range=[t0 + eps, t1 - eps],
                             energy_range=band, no_shadowing=True)
    meta = sci
    if "background" in files:
        b = INPUTS["background_time_range_utc"]
        bkg = create_meta_pixels(Product(files["background"]), time_range=[Time(b[0]), Time(b[1])],
                                 energy_range=band, no_shadowing=True)
        meta = {
            **sci,
            "abcd_rate_kev_cm": sci["abcd_rate_kev_cm"] - bkg["abcd_rate_kev_cm"],
            "abcd_rate_error_kev_cm": np.sqrt(sci["abcd_rate_error_kev_cm"] ** 2
                                              + bkg["abcd_rate_error_kev_cm"] ** 2),
        }
    vis = create_visibility(meta)
    tr = TimeRange(vis.meta["time_range"])
    obs = INPUTS["observer"]
    observer = HeliographicStonyhurst(obs["lon_deg"] * u.deg, obs["lat_deg"] * u.deg,
                                      obs["distance_m"] * u.m, obstime=tr.center)
    cx, cy = INPUTS["center_stix_arcsec"]
    # The map centre in the STIX frame at the interval centre (our phase centre).
    center = SkyCoord(cx * u.arcsec, cy * u.arcsec, frame=STIXImaging(obstime=tr.center, observer=observer))
    cal = calibrate_visibility(vis, flare_location=center)
    labels = [str(x) for x in cal.meta["vis_labels"]]
    idx = [labels.index(lab) for lab in INPUTS["detectors"]]
    v = cal[idx]
    n = INPUTS["image_size_px"]
    shape = [n, n] * u.pix
    pixel = [INPUTS["pixel_arcsec"]] * 2 * u.arcsec / u.pix
    p = INPUTS["parameters"]
    alg = INPUTS["algorithm"]
    if alg in ("bp", "bp-uniform"):
        from xrayvision.imaging import vis_to_image

        scheme = "uniform" if alg == "bp-uniform" else "natural"
        img = vis_to_image(v, shape, pixel_size=pixel, scheme=scheme)
    elif alg == "clean":
        from xrayvision.clean import vis_clean

        c = p.get("clean", {})
        img, _, _ = vis_clean(v, shape, pixel_size=pixel, gain=c.get("gain", 0.1), niter=c.get("niter", 200),
                              clean_beam_width=c.get("beam_fwhm_arcsec", 20.0) * u.arcsec)
    elif alg == "mem":
        from xrayvision.mem import mem

        m = p.get("mem", {})
        img = mem(v, shape=shape, pixel_size=pixel, percent_lambda=m.get("percent_lambda", 0.02) * u.dimensionless_unscaled,
                  maxiter=m.get("maxiter", 1000), tol=m.get("tol", 1e-3))
    elif alg == "em":
        from stixpy.imaging.em import em

        m = p.get("em", {})
        img = em(meta["abcd_rate_kev_cm"], cal, shape=shape, pixel_size=pixel, flare_location=center,
                 maxiter=m.get("maxiter", 5000), tolerance=m.get("tol", 1e-3), idx=list(range(32)))
    else:
        raise SystemExit(f"no Python peer for {alg}")
    img = np.asarray(getattr(getattr(img, "data", img), "value", getattr(img, "data", img)), dtype=float)
    return img, ours, fits_path, elut_used


def method_reproduce(out_dir):
    if INPUTS["algorithm"] == "fwdfit":
        print("VIS_FWDFIT has no stixpy/xrayvision peer: falling back to --method fits", file=sys.stderr)
        return method_fits(out_dir)
    import numpy as np
    import sunpy.map

    img, ours, fits_path, elut_used = reproduce_array(out_dir)
    a = np.asarray(ours.data, dtype=float)
    r = float(np.corrcoef(a.ravel(), img.ravel())[0, 1])
    peak_ours = [int(i) for i in np.unravel_index(np.nanargmax(a), a.shape)]
    peak_repro = [int(i) for i in np.unravel_index(np.nanargmax(img), img.shape)]
    # Our FITS header places the rebuilt array on the sky: same grid, same orientation.
    rebuilt = sunpy.map.Map(img, ours.fits_header)
    out_fits = os.path.join(out_dir, os.path.splitext(INPUTS["fits_file_name"])[0] + "_stixpy.fits")
    rebuilt.save(out_fits, overwrite=True)
    plt = _pyplot()
    fig = plt.figure(figsize=(12, 5.5))
    for k, (m, name) in enumerate([(ours, "stix-archive FITS"), (rebuilt, "stixpy + xrayvision")]):
        ax = fig.add_subplot(1, 2, k + 1, projection=m)
        m.plot(axes=ax, cmap="inferno")
        ax.set_title(name)
    fig.suptitle(f"{_title()}   Pearson r = {r:.4f}")
    png = os.path.join(out_dir, os.path.splitext(INPUTS["fits_file_name"])[0] + "_reproduce.png")
    fig.savefig(png, dpi=80)
    plt.close(fig)
    print(json.dumps({"method": "reproduce", "fits": fits_path, "reproduced_fits": out_fits, "png": png,
                      "pearson_r": r, "peak_ours": peak_ours, "peak_reproduced": peak_repro,
                      "elut_file": elut_used}))
    return png


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=["fits", "reproduce"], default="fits")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.method == "fits":
        method_fits(args.out)
    else:
        method_reproduce(args.out)


if __name__ == "__main__":
    main()
