#!/usr/bin/env python3
"""Overlay STIX contours on a STIX map ({{TITLE}}).

Written by {{SOFTWARE_VERSION}}. Downloads the base map and the contour maps, opens them with
sunpy and draws the contour maps at the given percentages of their maxima on the base map
(for example 16-28 keV contours on a 4-10 keV map), then writes a PNG.

WARNING: preview images are made automatically, without human checking. They are not meant
for publication without checking.

Usage:
    python overlay.py [--out DIR]
"""

import argparse
import json
import os
import sys
import urllib.request

INPUTS = json.loads({{INPUTS_JSON}})


def download(url, out_dir, name):
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        with urllib.request.urlopen(url) as resp, open(path + ".part", "wb") as out:
            out.write(resp.read())
        os.replace(path + ".part", path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    import matplotlib

    if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        matplotlib.use("Agg")
    import astropy.units as u
    import matplotlib.pyplot as plt
    import sunpy.map

    base_info = INPUTS["base"]
    base = sunpy.map.Map(download(base_info["fits_url"], args.out, base_info["fits_file_name"]))
    fig = plt.figure(figsize=(7, 6.5))
    ax = fig.add_subplot(projection=base)
    base.plot(axes=ax, cmap="inferno")
    base.draw_limb(axes=ax)
    colors = ["cyan", "lime", "white", "magenta", "deepskyblue", "yellow"]
    levels = INPUTS["levels_percent"] * u.percent
    legend = []
    for k, c in enumerate(INPUTS["contours"]):
        m = sunpy.map.Map(download(c["fits_url"], args.out, c["fits_file_name"]))
        color = colors[k % len(colors)]
        m.draw_contours(levels, axes=ax, colors=color, linewidths=1.0)
        legend.append(f"{c['energy_low_kev']:g}-{c['energy_high_kev']:g} keV {c['algorithm']} ({color})")
    ax.set_title(f"{base_info['energy_low_kev']:g}-{base_info['energy_high_kev']:g} keV {base_info['algorithm']} "
                 f"{base_info['time_start']}\ncontours {', '.join(str(x) for x in INPUTS['levels_percent'])} %: "
                 + "; ".join(legend), fontsize=8)
    png = os.path.join(args.out, INPUTS["png_name"])
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print(json.dumps({"png": png, "contours": len(INPUTS["contours"])}))


if __name__ == "__main__":
    main()
