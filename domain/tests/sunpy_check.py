"""Loads a stix-archive FITS map with plain sunpy/astropy and prints what the Rust test checks.

Usage: python3 sunpy_check.py FILE.fits

Opens the file with the plain call `sunpy.map.Map(path)`, which must return exactly one map
(the CLEAN residual and the component/source lists are binary tables, which sunpy skips).
Prints one JSON object on stdout (for the first map when sunpy returns several):
  n_maps, peak_index [iy, ix],
  peak_world_arcsec [Tx, Ty] (world coordinate of the brightest pixel),
  observer {lon_deg, lat_deg, radius_m}, date / date_start / date_average / date_end (ISO),
  rsun_meters, rsun_obs_arcsec, unit, warnings (messages raised while loading and querying),
  header (selected primary keys, long strings resolved), extensions (CLEAN/FWDFIT tables,
  RESIDUAL shape and peak).
Exit status 3 with a message on stderr when sunpy/astropy are not installed.
"""

import json
import sys
import warnings

try:
    import astropy.units as u
    import numpy as np
    import sunpy.map
    from astropy.io import fits
except ImportError as exc:  # pragma: no cover - the message is the point
    sys.stderr.write(
        f"sunpy_check.py: cannot import sunpy/astropy ({exc}). "
        'Fix: pip install "sunpy[map]" (or set STIX_PYTHON to a Python that has it)\n'
    )
    sys.exit(3)


def clean(obj):
    """JSON has no NaN: turn non-finite floats into null."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def iso(t):
    return None if t is None else t.utc.isot


def peak_world(m):
    """Index (iy, ix) of the brightest pixel and its world coordinate in arcsec."""
    data = np.asarray(m.data, dtype=float)
    iy, ix = np.unravel_index(np.nanargmax(data), data.shape)
    world = m.pixel_to_world(int(ix) * u.pix, int(iy) * u.pix)
    return (int(iy), int(ix)), [world.Tx.to_value("arcsec"), world.Ty.to_value("arcsec")]


def main(path):
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The plain call users make: one file, one map (a list would mean a second map).
        m = sunpy.map.Map(path)
        maps = m if isinstance(m, list) else [m]
        out["n_maps"] = len(maps)
        out["is_generic_map"] = isinstance(m, sunpy.map.GenericMap)
        m = maps[0]
        data = np.asarray(m.data, dtype=float)
        (iy, ix), world_arcsec = peak_world(m)
        obs = m.observer_coordinate
        out["peak_index"] = [int(iy), int(ix)]
        out["peak_world_arcsec"] = world_arcsec
        out["observer"] = {
            "lon_deg": obs.lon.to_value("deg"),
            "lat_deg": obs.lat.to_value("deg"),
            "radius_m": obs.radius.to_value("m"),
        }
        out["date"] = iso(m.date)
        out["date_start"] = iso(m.date_start)
        out["date_average"] = iso(m.date_average)
        out["date_end"] = iso(m.date_end)
        out["reference_date"] = iso(m.reference_date)
        out["rsun_meters"] = m.rsun_meters.to_value("m")
        out["rsun_obs_arcsec"] = m.rsun_obs.to_value("arcsec")
        out["unit"] = None if m.unit is None else m.unit.to_string()
        out["rotation_matrix"] = np.asarray(m.rotation_matrix).tolist()
        out["observatory"] = m.observatory
        out["instrument"] = m.instrument
        out["shape"] = list(data.shape)
        out["frame"] = m.coordinate_frame.name
    out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]

    with fits.open(path) as hdul:
        h = hdul[0].header
        keys = [
            "ALG_USED", "ALG_PARS", "FLNM_SCI", "FLNM_BKG", "STX_X", "STX_Y", "PNT_SRC",
            "CNTS_TOT", "CNTS_BKG", "CAL_VERS", "SW_VERS", "ENERGY_L", "ENERGY_H", "EXPTIME",
            "BUNIT", "CRLN_OBS", "CRLT_OBS", "CROTA2",
        ]
        out["header"] = {k: h.get(k) for k in keys}
        out["history"] = [str(x) for x in h.get("HISTORY", [])]
        ext = {}
        names = [hdu.name for hdu in hdul]
        ext["names"] = names
        if "CLEAN_COMPONENTS" in names:
            t = hdul["CLEAN_COMPONENTS"].data
            ext["clean_components"] = {
                c: [float(v) for v in t[c]] for c in ("X_STX", "Y_STX", "X_HPC", "Y_HPC", "FLUX")
            }
            ext["clean_units"] = [
                hdul["CLEAN_COMPONENTS"].header.get(f"TUNIT{i}") for i in range(1, 6)
            ]
        ext["kinds"] = [type(hdu).__name__ for hdu in hdul]
        if "RESIDUAL" in names:
            # One row, one (n, n) array column (TDIM1).
            r = np.asarray(hdul["RESIDUAL"].data["RESIDUAL"][0], dtype=float)
            ry, rx = np.unravel_index(np.nanargmax(r), r.shape)
            ext["residual_shape"] = list(r.shape)
            ext["residual_peak_index"] = [int(ry), int(rx)]
            ext["residual_peak"] = float(r[ry, rx])
        if "FWDFIT_SOURCES" in names:
            t = hdul["FWDFIT_SOURCES"].data
            ext["fwdfit_sources"] = {
                c: ([str(v).strip() for v in t[c]] if c == "SHAPE" else [float(v) for v in t[c]])
                for c in t.columns.names
            }
        out["extensions"] = ext
    print(json.dumps(clean(out), default=str, allow_nan=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: sunpy_check.py FILE.fits\n")
        sys.exit(2)
    main(sys.argv[1])
