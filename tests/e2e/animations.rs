//! `createAnimation` and `createOverlay` over real HTTP: the server-rendered GIF has one
//! frame per image in time order (checked against the quick-look PNGs) at the quick-look
//! size plus the label band; the Python animation and overlay templates run against the
//! live server with real sunpy/matplotlib/Pillow and write their files (frame count, order
//! and sizes checked with Pillow); more than 300 images is `BAD_USER_INPUT`.

use crate::downloads::{images, m12_previews};
use crate::support::python;
use crate::support::{TIMEOUT, spawn_app};
use serde_json::{Value, json};
use std::process::Command;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn rgba_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    (info.width as usize, info.height as usize, buf)
}

fn run(args: &[&str], dir: &std::path::Path) -> Value {
    let out = Command::new(python())
        .args(args)
        .arg("--out")
        .arg(dir)
        .env("MPLBACKEND", "Agg")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap()
}

fn pillow(code: &str, path: &str) -> Value {
    let out = Command::new(python())
        .args(["-c", code, path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn animation_gif_and_templates() {
    let app = spawn_app().await;
    m12_previews(&app).await;
    let imgs = images(&app).await;
    // Every BP image (several boxes) plus one CLEAN image: mixed algorithms, given in
    // reverse time order.
    let mut chosen: Vec<&Value> = imgs.iter().filter(|i| i["algorithm"] == "BP").collect();
    chosen.push(imgs.iter().find(|i| i["algorithm"] == "CLEAN").unwrap());
    chosen.sort_by(|a, b| s(&b["timeStart"]).cmp(s(&a["timeStart"])));
    let ids: Vec<&str> = chosen.iter().map(|i| s(&i["id"])).collect();
    assert!(ids.len() >= 4);
    let r = app
        .graphql(
            "mutation($ids: [ID!]!) { createAnimation(input: { imageIds: $ids, fps: 4 }) { id fps imageIds pythonScriptUrl gifUrl } }",
            json!({ "ids": ids }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let a = &r["data"]["createAnimation"];
    let order: Vec<String> = a["imageIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| s(v).to_string())
        .collect();
    let time_of = |id: &str| {
        let img = imgs.iter().find(|i| i["id"] == id).unwrap();
        (
            s(&img["timeStart"]).to_string(),
            s(&img["algorithm"]).to_string(),
        )
    };
    let times: Vec<(String, String)> = order.iter().map(|id| time_of(id)).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "frames in time order");

    // The GIF: one frame per image, in that order, each the quick-look plus the label band.
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let gif_url = s(&a["gifUrl"]);
    let resp = http.get(gif_url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/gif");
    let gif_bytes = resp.bytes().await.unwrap();
    let mut pngs = Vec::new();
    for id in &order {
        let img = imgs.iter().find(|i| i["id"] == id.as_str()).unwrap();
        let b = http
            .get(s(&img["pngUrl"]))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        pngs.push(rgba_png(&b));
    }
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts
        .read_info(std::io::Cursor::new(gif_bytes.to_vec()))
        .unwrap();
    let (gw, gh) = (dec.width() as usize, dec.height() as usize);
    let (pw, ph, _) = pngs[0];
    assert_eq!(
        (gw, gh),
        (pw, ph + domain::output::animation::LABEL_BAND_PX)
    );
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().unwrap() {
        assert_eq!((f.width as usize, f.height as usize), (gw, gh));
        frames.push(f.buffer.to_vec());
    }
    assert_eq!(frames.len(), order.len(), "one frame per image");
    // Each frame's picture is closest to its own quick-look (mean absolute difference).
    let band = domain::output::animation::LABEL_BAND_PX;
    let diff = |frame: &[u8], png: &(usize, usize, Vec<u8>)| -> f64 {
        let mut sum = 0u64;
        for y in 0..ph {
            for x in 0..pw {
                let g = ((y + band) * gw + x) * 4;
                let p = (y * pw + x) * 4;
                for c in 0..3 {
                    sum +=
                        (i32::from(frame[g + c]) - i32::from(png.2[p + c])).unsigned_abs() as u64;
                }
            }
        }
        sum as f64 / (pw * ph * 3) as f64
    };
    for (k, f) in frames.iter().enumerate() {
        let d: Vec<f64> = pngs.iter().map(|p| diff(f, p)).collect();
        let best = d
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert!(d[k] < 20.0, "frame {k} differs from its PNG by {}", d[k]);
        assert_eq!(best, k, "frame {k} shows image {best}: {d:?}");
    }

    // The Python template, against the live server.
    let dir = tempfile::tempdir().unwrap();
    let text = http
        .get(s(&a["pythonScriptUrl"]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = dir.path().join("animation.py");
    std::fs::write(&script, text).unwrap();
    let d2 = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(&[script.to_str().unwrap()], &d2))
        .await
        .unwrap();
    let written: Vec<String> = out["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| s(v).to_string())
        .collect();
    assert_eq!(written, order, "the template animates in time order");
    let info = pillow(
        "import json,sys; from PIL import Image; im=Image.open(sys.argv[1]); print(json.dumps({'n': im.n_frames, 'size': im.size}))",
        s(&out["gif"]),
    );
    assert_eq!(info["n"], json!(order.len()));
    assert_eq!(info["size"], json!([600, 600]));

    // Over 300 images is refused.
    let many: Vec<&str> = std::iter::repeat_n(ids[0], 301).collect();
    let r = app
        .graphql(
            "mutation($ids: [ID!]!) { createAnimation(input: { imageIds: $ids, fps: 2 }) { id } }",
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );

    // Overlay: CLEAN contours on the BP map.
    let bp = chosen.iter().find(|i| i["algorithm"] == "BP").unwrap();
    let clean = chosen.iter().find(|i| i["algorithm"] == "CLEAN").unwrap();
    let r = app
        .graphql(
            "mutation($b: ID!, $c: [ID!]!) { createOverlay(input: { baseImageId: $b, contourImageIds: $c, levelsPercent: [50, 70, 90] }) { pythonScriptUrl pythonScript } }",
            json!({ "b": bp["id"], "c": [clean["id"]] }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let o = &r["data"]["createOverlay"];
    let served = http
        .get(s(&o["pythonScriptUrl"]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        served,
        s(&o["pythonScript"]),
        "the URL serves the same template"
    );
    let script = dir.path().join("overlay.py");
    std::fs::write(&script, served).unwrap();
    let d2 = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(&[script.to_str().unwrap()], &d2))
        .await
        .unwrap();
    assert_eq!(out["contours"], 1);
    let info = pillow(
        "import json,sys; from PIL import Image; im=Image.open(sys.argv[1]); print(json.dumps({'size': im.size}))",
        s(&out["png"]),
    );
    assert_eq!(info["size"], json!([700, 650]));
    let r = app
        .graphql(
            "mutation($b: ID!, $c: [ID!]!) { createOverlay(input: { baseImageId: $b, contourImageIds: $c, levelsPercent: [0] }) { pythonScriptUrl } }",
            json!({ "b": bp["id"], "c": [clean["id"]] }),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    app.stop().await;
}
