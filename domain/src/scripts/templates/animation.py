#!/usr/bin/env python3
"""Animate {{N_FRAMES}} STIX images in time order ({{TITLE}}).

Written by {{SOFTWARE_VERSION}}. Downloads each FITS map, opens it with sunpy and writes an
animated GIF with matplotlib + Pillow, one frame per image labelled with its time, band and
algorithm (a selection may mix bands and algorithms).

WARNING: preview images are made automatically, without human checking. They are not meant
for publication without checking.

Usage:
    python animation.py [--out DIR]
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
    import matplotlib.pyplot as plt
    import sunpy.map
    from matplotlib.animation import FuncAnimation, PillowWriter

    frames = sorted(INPUTS["frames"], key=lambda f: (f["time_start"], f["energy_low_kev"], f["algorithm"]))
    maps = [sunpy.map.Map(download(f["fits_url"], args.out, f["fits_file_name"])) for f in frames]
    fig = plt.figure(figsize=(6, 6))

    def draw(i):
        fig.clear()
        m, f = maps[i], frames[i]
        ax = fig.add_subplot(projection=m)
        m.plot(axes=ax, cmap="inferno")
        ax.set_title(f"{f['time_start']}  {f['energy_low_kev']:g}-{f['energy_high_kev']:g} keV  {f['algorithm']}",
                     fontsize=9)
        return []

    anim = FuncAnimation(fig, draw, frames=len(maps), blit=False)
    gif = os.path.join(args.out, INPUTS["gif_name"])
    anim.save(gif, writer=PillowWriter(fps=INPUTS["fps"]))
    plt.close(fig)
    print(json.dumps({"gif": gif, "frames": [f["image_id"] for f in frames]}))


if __name__ == "__main__":
    main()
