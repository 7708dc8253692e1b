//! Admin operations through the real server: `ingest(paths)` reads only under the inbox or
//! the import root, and `reprocess(scienceFileUid)` makes new previews that supersede the old
//! ones, which stay downloadable.

use crate::client::{admin_token, code, gql, register};
use crate::support::{TIMEOUT, TestApp, spawn_app, spawn_app_with};
use api::archive::{ingest_and_queue, wait_for_jobs};
use jobs::store::entities::{image, reconstruction_job};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use std::path::PathBuf;

const C12_UID: i64 = 2211134748;
const C12_FILE: &str =
    "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits";
const ASPECT_FILE: &str = "solo_L2_stix-aux-ephemeris_20221113_V01.fits";

fn l1(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix/l1")).join(name)
}

const INGEST: &str =
    "mutation($p: [String!]!) { ingest(paths: $p) { files { path outcome reason } previewJobs } }";

#[tokio::test]
async fn admin_ingest_reads_only_under_the_import_root() {
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("import");
    std::fs::create_dir_all(&root).unwrap();
    for f in [C12_FILE, ASPECT_FILE] {
        std::fs::copy(l1(f), root.join(f)).unwrap();
    }
    // A file next to the root, and a link inside it that points there.
    std::fs::copy(l1(ASPECT_FILE), outside.path().join("secret.fits")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.fits"), root.join("link.fits")).unwrap();
    let app = spawn_app_with(&[("STIX__STORAGE__IMPORT_ROOT", root.to_str().unwrap())]).await;
    let admin = admin_token(&app, "root").await;
    let user = register(&app, "mallory").await;
    let paths = |ps: &[PathBuf]| json!({ "p": ps.iter().map(|p| p.display().to_string()).collect::<Vec<_>>() });

    let v = gql(&app, None, INGEST, paths(std::slice::from_ref(&root))).await;
    assert_eq!(code(&v).as_deref(), Some("UNAUTHENTICATED"), "{v}");
    let v = gql(
        &app,
        Some(&user),
        INGEST,
        paths(std::slice::from_ref(&root)),
    )
    .await;
    assert_eq!(code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    for bad in [
        PathBuf::from("/etc/passwd"),
        root.join("..").join("secret.fits"),
        root.join("link.fits"),
        root.join("missing.fits"),
    ] {
        let v = gql(
            &app,
            Some(&admin),
            INGEST,
            paths(&[root.join(C12_FILE), bad.clone()]),
        )
        .await;
        assert_eq!(code(&v).as_deref(), Some("BAD_USER_INPUT"), "{bad:?}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "paths", "{v}");
    }
    let n_files = jobs::store::entities::science_file::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .len();
    assert_eq!(
        n_files, 0,
        "a refused request reads nothing, not even its good paths"
    );

    let v = gql(
        &app,
        Some(&admin),
        INGEST,
        paths(&[root.join(ASPECT_FILE), root.join(C12_FILE)]),
    )
    .await;
    let files = v["data"]["ingest"]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let outcomes: Vec<&str> = files
        .iter()
        .map(|f| f["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["NEW", "NEW"], "{v}");
    assert_eq!(v["data"]["ingest"]["previewJobs"], 1, "{v}");
    let v = gql(&app, Some(&admin), INGEST, paths(&[root.join(C12_FILE)])).await;
    assert_eq!(
        v["data"]["ingest"]["files"][0]["outcome"], "ALREADY_PRESENT",
        "{v}"
    );
    app.stop().await;
}

/// The newest preview job's row.
async fn newest_job(app: &TestApp) -> reconstruction_job::Model {
    reconstruction_job::Entity::find()
        .order_by_desc(reconstruction_job::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("a job")
}

async fn wait(app: &TestApp, id: i64) -> reconstruction_job::Model {
    let done = tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &[id]))
        .await
        .expect("the job finishes in time")
        .unwrap();
    assert_eq!(done[0].status, "SUCCEEDED", "{:?}", done[0].error_message);
    done[0].clone()
}

const REPROCESS: &str = "mutation($u: BigInt!) { reprocess(scienceFileUid: $u) { id status } }";

#[tokio::test]
async fn reprocess_supersedes_older_previews_which_stay_downloadable() {
    let app = spawn_app().await;
    // The first previews were made with older settings: back-projection only, 65² pixels.
    let old_settings = jobs::pipeline::PipelineSettings {
        algorithms: vec![domain::imaging::Algorithm::Bp],
        image_size_px: 65,
        ..Default::default()
    };
    let (_, queued) = ingest_and_queue(
        &app.state,
        &old_settings,
        &[l1(ASPECT_FILE), l1(C12_FILE)],
        |_, _, _| {},
    )
    .await
    .unwrap();
    wait(&app, queued[0].id).await;
    let db = &app.state.db;
    let old = image::Entity::find().all(db).await.unwrap();
    assert!(!old.is_empty());

    let admin = admin_token(&app, "root").await;
    let user = register(&app, "eve").await;
    let v = gql(&app, Some(&user), REPROCESS, json!({ "u": C12_UID })).await;
    assert_eq!(code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    let v = gql(&app, Some(&admin), REPROCESS, json!({ "u": 1234567 })).await;
    assert_eq!(code(&v).as_deref(), Some("NOT_FOUND"), "{v}");

    // Reprocess with the service's settings (all five algorithms, 129²).
    let v = gql(&app, Some(&admin), REPROCESS, json!({ "u": C12_UID })).await;
    assert_eq!(v["data"]["reprocess"]["status"], "QUEUED", "{v}");
    let job = wait(&app, newest_job(&app).await.id).await;
    let all = image::Entity::find().all(db).await.unwrap();
    let new: Vec<&image::Model> = all.iter().filter(|i| i.job_id == Some(job.id)).collect();
    assert!(new.len() > old.len(), "five algorithms now");
    for o in &old {
        let now = all.iter().find(|i| i.id == o.id).unwrap();
        let by = now
            .superseded_by_id
            .expect("every old preview is superseded");
        let successor = all.iter().find(|i| i.id == by).unwrap();
        assert_eq!(successor.job_id, Some(job.id));
        assert_eq!(
            (
                successor.algorithm.as_str(),
                successor.energy_low_kev,
                successor.flare_id
            ),
            (o.algorithm.as_str(), o.energy_low_kev, o.flare_id)
        );
        // The old image stays downloadable, byte for byte.
        let gid = api::graphql::global_id::encode(
            api::graphql::global_id::NodeKind::Image,
            &o.public_id.to_string(),
        );
        let r = reqwest::get(format!("{}/files/images/{gid}.fits", app.base))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            o.fits_sha256
        );
        let v: Value = gql(
            &app,
            None,
            "query($id: ID!) { image(id: $id) { supersededBy { id algorithm } } }",
            json!({ "id": gid }),
        )
        .await;
        let s = &v["data"]["image"]["supersededBy"];
        assert_eq!(s["algorithm"], "BP", "{v}");
        assert_eq!(
            s["id"],
            api::graphql::global_id::encode(
                api::graphql::global_id::NodeKind::Image,
                &successor.public_id.to_string()
            ),
            "{v}"
        );
    }
    assert!(new.iter().all(|i| i.superseded_by_id.is_none()));
    // `current: true` lists only the new images.
    let v = gql(
        &app,
        None,
        "{ images(first: 100, filter: {current: true}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(v["data"]["images"]["totalCount"], new.len(), "{v}");

    // Reprocessing again with unchanged settings is a new job that makes nothing new.
    let v = gql(&app, Some(&admin), REPROCESS, json!({ "u": C12_UID })).await;
    assert_eq!(v["data"]["reprocess"]["status"], "QUEUED", "{v}");
    let again = wait(&app, newest_job(&app).await.id).await;
    assert_ne!(again.id, job.id);
    assert_eq!(
        image::Entity::find().all(db).await.unwrap().len(),
        all.len()
    );
    app.stop().await;
}
