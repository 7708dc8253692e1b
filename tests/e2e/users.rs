//! Registered users through the real server: accounts and tokens (HTTP and `/ws`), the login
//! rate limit, submitting, validating, reading, following and cancelling reconstructions,
//! quota, idempotent resubmission, isolation between users.

use crate::client::{code, follow, gql, gql_auth, register, subscribe_job, ws_connect};
use crate::support::{TestApp, spawn_app_with};
use jobs::store::entities::{image, reconstruction_job};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use std::path::PathBuf;

const M12_UID: i64 = 2211116471;
const BKG_UID: i64 = 2211098157;

/// Ingests the M1.2 flare file, its background, the aspect file and the flare list, without
/// queuing previews (the user tests need only the data).
async fn ingest_m12(app: &TestApp) {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix"));
    let paths: Vec<PathBuf> = [
        "l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits",
        "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
        "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
        "flare_reference_locations.csv",
    ]
    .iter()
    .map(|p| dir.join(p))
    .collect();
    let ingestor = jobs::ingest::Ingestor::new(app.state.db.clone(), app.data_dir.clone());
    let report = ingestor.ingest_paths(&paths, |_, _, _| {}).await;
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);
}

/// (job rows, queue tasks): what a rejected submission must leave unchanged.
async fn counts(app: &TestApp) -> (u64, i64) {
    let db = &app.state.db;
    let jobs = reconstruction_job::Entity::find().count(db).await.unwrap();
    let table = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let tasks: i64 = row.try_get("", "n").unwrap();
    (jobs, tasks)
}

const SUBMIT: &str = "mutation($i: SubmitReconstructionInput!) { submitReconstruction(input: $i) { id status timeBinsUsed { start end } energyEdgesUsedKev request } }";

/// A valid submission of the M1.2 peak (60 s, 6–10 keV), varied by `second`.
fn m12_input(algorithms: &[&str], second: u32, size: i64) -> Value {
    json!({
        "scienceFileUid": M12_UID,
        "timeRange": {
            "start": format!("2022-11-11T11:36:{:02}Z", second % 60),
            "end": format!("2022-11-11T11:37:{:02}Z", second % 60)
        },
        "energyRange": { "lowKev": 6.0, "highKev": 10.0 },
        "algorithms": algorithms,
        "imageSize": size,
    })
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

#[tokio::test]
async fn accounts_tokens_and_the_login_rate_limit() {
    let app = spawn_app_with(&[("STIX__AUTH__LOGIN_ATTEMPTS_PER_MINUTE", "4")]).await;
    let token = register(&app, "Alice").await;
    let me = gql(&app, Some(&token), "{ me { username role } }", json!({})).await;
    assert_eq!(
        me["data"]["me"],
        json!({"username": "Alice", "role": "USER"}),
        "{me}"
    );
    // Usernames are unique regardless of case; short passwords are refused with the field.
    let dup = gql(
        &app,
        None,
        "mutation { register(input: {username: \"alice\", email: \"x@example.org\", password: \"correct horse battery\"}) { token } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&dup).as_deref(), Some("CONFLICT"), "{dup}");
    let short = gql(
        &app,
        None,
        "mutation { register(input: {username: \"bob\", email: \"b@example.org\", password: \"short\"}) { token } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&short).as_deref(), Some("BAD_USER_INPUT"), "{short}");
    assert_eq!(short["errors"][0]["extensions"]["field"], "password");

    // Unknown user and wrong password: the same error, comparable time (both run argon2).
    let login = |u: &str, p: &str| {
        let (u, p) = (u.to_string(), p.to_string());
        let app = &app;
        async move {
            let t0 = std::time::Instant::now();
            let v = gql(
                app,
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token user { username } } }",
                json!({ "i": { "username": u, "password": p } }),
            )
            .await;
            (v, t0.elapsed())
        }
    };
    let (wrong, t_wrong) = login("alice", "wrong horse battery").await;
    let (unknown, t_unknown) = login("nobody", "wrong horse battery").await;
    assert_eq!(code(&wrong).as_deref(), Some("UNAUTHENTICATED"), "{wrong}");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    let ratio = t_wrong.as_secs_f64() / t_unknown.as_secs_f64();
    assert!((0.25..4.0).contains(&ratio), "{t_wrong:?} vs {t_unknown:?}");
    let (ok, _) = login("ALICE", "correct horse battery").await;
    assert!(ok["data"]["login"]["token"].is_string(), "{ok}");
    // Four attempts a minute per account: the fourth for alice is allowed, the fifth is not.
    let (_, _) = login("alice", "wrong horse battery").await;
    let (limited, _) = login("alice", "correct horse battery").await;
    assert_eq!(code(&limited).as_deref(), Some("RATE_LIMITED"), "{limited}");

    // Tokens that are missing, malformed, tampered, alg none, wrong-secret or expired.
    let keys = &app.state.auth.keys;
    let claims = keys.check(&token).unwrap();
    let expired = keys
        .sign(&api::auth::token::Claims {
            exp: chrono::Utc::now().timestamp() - 5,
            ..claims.clone()
        })
        .unwrap();
    let other = api::auth::token::TokenKeys::new(&[9u8; 32], 3600)
        .sign(&claims)
        .unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = format!("{}A", &parts[1][..parts[1].len() - 1]);
    let tampered = parts.join(".");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_string(&claims).unwrap())
    );
    let bad_headers = [
        None,
        Some("Bearer".to_string()),
        Some(format!("Token {token}")),
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {other}")),
        Some(format!("Bearer {tampered}")),
        Some(format!("Bearer {none}")),
    ];
    for h in &bad_headers {
        let v = gql_auth(&app, h.as_deref(), "{ me { username } }", json!({})).await;
        assert_eq!(code(&v).as_deref(), Some("UNAUTHENTICATED"), "{h:?}: {v}");
        // The same on /ws.
        let payload = match h {
            Some(h) => json!({ "authorization": h }),
            None => json!({}),
        };
        let mut ws = ws_connect(&app, payload).await;
        subscribe_job(&mut ws, "1", "UmVjb25zdHJ1Y3Rpb25Kb2I6eA").await;
        let (events, end) = follow(&mut ws).await;
        assert_eq!(end["type"], "complete", "{end}");
        assert_eq!(
            events[0]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{events:?}"
        );
    }

    // Revocation: changing the password revokes older tokens; disabling revokes all.
    let changed = gql(
        &app,
        Some(&token),
        "mutation { changePassword(input: {currentPassword: \"correct horse battery\", newPassword: \"another horse battery\"}) { token } }",
        json!({}),
    )
    .await;
    let fresh = changed["data"]["changePassword"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let old = gql(&app, Some(&token), "{ me { username } }", json!({})).await;
    assert_eq!(code(&old).as_deref(), Some("UNAUTHENTICATED"), "{old}");
    let now = gql(&app, Some(&fresh), "{ me { username } }", json!({})).await;
    assert_eq!(now["data"]["me"]["username"], "Alice");
    // Only admins disable users; an admin made from the command-line code path.
    let denied = gql(
        &app,
        Some(&fresh),
        "mutation { disableUser(input: {username: \"alice\"}) { username } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&denied).as_deref(), Some("FORBIDDEN"), "{denied}");
    // An admin made on the command-line code path; its token is issued directly because
    // the per-address login limit of this test (4 a minute) is used up by now.
    let root = api::auth::accounts::create(
        &app.state.db,
        "root",
        "root@example.org",
        "root password 123".into(),
        api::auth::Role::Admin,
    )
    .await
    .unwrap();
    let (admin, _) = app
        .state
        .auth
        .keys
        .issue(root.public_id, &root.role, root.token_version)
        .unwrap();
    let who = gql(&app, Some(&admin), "{ me { role } }", json!({})).await;
    assert_eq!(who["data"]["me"]["role"], "ADMIN", "{who}");
    let disabled = gql(
        &app,
        Some(&admin),
        "mutation { disableUser(input: {username: \"alice\"}) { username } }",
        json!({}),
    )
    .await;
    assert_eq!(
        disabled["data"]["disableUser"]["username"], "Alice",
        "{disabled}"
    );
    let gone = gql(&app, Some(&fresh), "{ me { username } }", json!({})).await;
    assert_eq!(code(&gone).as_deref(), Some("UNAUTHENTICATED"), "{gone}");
    app.stop().await;
}

#[tokio::test]
async fn submit_clean_and_mem_and_follow_the_job_over_ws() {
    let app = spawn_app_with(&[]).await;
    ingest_m12(&app).await;
    let token = register(&app, "carol").await;
    let v = gql(
        &app,
        Some(&token),
        SUBMIT,
        json!({ "i": m12_input(&["CLEAN", "MEM"], 0, 65) }),
    )
    .await;
    let job = &v["data"]["submitReconstruction"];
    let id = job["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    assert!(!job["timeBinsUsed"].as_array().unwrap().is_empty(), "{job}");
    let edges = job["energyEdgesUsedKev"].as_array().unwrap();
    assert!(
        edges.len() >= 2 && edges[0].as_f64().unwrap() <= 6.0,
        "{job}"
    );
    // Follow it: current state first, then RUNNING with progress, SUCCEEDED, complete.
    let mut ws = ws_connect(&app, json!({ "authorization": format!("Bearer {token}") })).await;
    subscribe_job(&mut ws, "1", &id).await;
    let (events, end) = follow(&mut ws).await;
    assert_eq!(end["type"], "complete", "{end}");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["jobStatus"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"SUCCEEDED"), "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["data"]["jobStatus"]["jobId"] == id.as_str())
    );
    if statuses[0] != "SUCCEEDED" {
        assert!(statuses.contains(&"RUNNING"), "{statuses:?}");
    }
    // Its progress ends at both algorithms done (a step within 250 ms of the last one is
    // carried by the final status rather than written on its own: worker::PROGRESS_EVERY;
    // a long job's steps are seen in a_running_mem_job_stops_when_cancelled).
    let last = &events.last().unwrap()["data"]["jobStatus"];
    assert_eq!(
        (&last["done"], &last["total"]),
        (&json!(2), &json!(2)),
        "{last}"
    );
    // A subscriber arriving after the end still learns the outcome, then completion.
    subscribe_job(&mut ws, "2", &id).await;
    let (late, end) = follow(&mut ws).await;
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["data"]["jobStatus"]["status"], "SUCCEEDED");
    assert_eq!(end["type"], "complete");

    // The images: kind USER, linked to job and owner; the FITS files open in sunpy.
    let q = "query($id: ID!) { reconstructionJob(id: $id) { status done total images(first: 10) { totalCount edges { node { kind algorithm fitsSha256 } } } } }";
    let v = gql(&app, Some(&token), q, json!({ "id": id })).await;
    let j = &v["data"]["reconstructionJob"];
    assert_eq!(j["images"]["totalCount"], 2, "{v}");
    let rows = image::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.kind, "user");
        assert!(r.owner_id.is_some() && r.job_id.is_some());
        let (grade, why) = crate::support::sunpy_quality(&app.data_dir.join(&r.fits_path));
        assert_eq!(
            Some(grade.as_str()),
            r.quality_grade.as_deref(),
            "{}",
            r.algorithm
        );
        assert!(!why.is_empty(), "QUAL_WHY is written");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_rule_is_checked_before_anything_is_queued() {
    // No workers: accepted jobs stay queued, so quota, idempotence and cancel are exact.
    let app = spawn_app_with(&[
        ("STIX__WORKERS__CONCURRENCY", "0"),
        ("STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER", "2"),
    ])
    .await;
    ingest_m12(&app).await;
    let dave = register(&app, "dave").await;
    let erin = register(&app, "erin").await;
    let base = m12_input(&["CLEAN"], 0, 65);
    let cases: Vec<(&str, Value)> = vec![
        (
            "scienceFileUid",
            with(base.clone(), "scienceFileUid", json!(42)),
        ),
        (
            "scienceFileUid",
            with(base.clone(), "scienceFileUid", json!(BKG_UID)),
        ),
        (
            "timeRange",
            with(
                base.clone(),
                "timeRange",
                json!({"start": "2022-11-11T13:00:00Z", "end": "2022-11-11T13:01:00Z"}),
            ),
        ),
        (
            "timeRange",
            with(
                base.clone(),
                "timeRange",
                json!({"start": "2022-11-11T11:37:00Z", "end": "2022-11-11T11:36:00Z"}),
            ),
        ),
        (
            "energyRange",
            with(
                base.clone(),
                "energyRange",
                json!({"lowKev": 200.0, "highKev": 300.0}),
            ),
        ),
        (
            "background.fileUid",
            with(base.clone(), "background", json!({"mode": "FILE"})),
        ),
        (
            "background.fileUid",
            with(
                base.clone(),
                "background",
                json!({"mode": "FILE", "fileUid": M12_UID}),
            ),
        ),
        ("imageSize", with(base.clone(), "imageSize", json!(4097))),
        (
            "pixelArcsec",
            with(base.clone(), "pixelArcsec", json!(500.0)),
        ),
        (
            "mapCenter",
            with(
                base.clone(),
                "mapCenter",
                json!({"xArcsec": 3000.0, "yArcsec": 0.0}),
            ),
        ),
        (
            "parameters",
            with(base.clone(), "parameters", json!({"cleanGain": 5.0})),
        ),
        ("algorithms", with(base.clone(), "algorithms", json!([]))),
    ];
    let before = counts(&app).await;
    for (field, input) in &cases {
        let v = gql(&app, Some(&dave), SUBMIT, json!({ "i": input })).await;
        assert_eq!(code(&v).as_deref(), Some("BAD_USER_INPUT"), "{field}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], *field, "{v}");
        assert_eq!(counts(&app).await, before, "{field}: nothing written");
    }
    // Unauthenticated submissions write nothing either.
    let v = gql(&app, None, SUBMIT, json!({ "i": base })).await;
    assert_eq!(code(&v).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(counts(&app).await, before);

    // Idempotent resubmission; quota; another user's job is NOT_FOUND; cancel while queued.
    let first = gql(&app, Some(&dave), SUBMIT, json!({ "i": base })).await;
    let id = first["data"]["submitReconstruction"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let again = gql(&app, Some(&dave), SUBMIT, json!({ "i": base })).await;
    assert_eq!(
        again["data"]["submitReconstruction"]["id"],
        id.as_str(),
        "{again}"
    );
    let second = gql(
        &app,
        Some(&dave),
        SUBMIT,
        json!({ "i": m12_input(&["CLEAN"], 5, 65) }),
    )
    .await;
    assert!(
        second["data"]["submitReconstruction"]["id"].is_string(),
        "{second}"
    );
    let n = counts(&app).await;
    let third = gql(
        &app,
        Some(&dave),
        SUBMIT,
        json!({ "i": m12_input(&["CLEAN"], 9, 65) }),
    )
    .await;
    assert_eq!(code(&third).as_deref(), Some("QUOTA_EXCEEDED"), "{third}");
    assert_eq!(counts(&app).await, n);

    for q in [
        "query($id: ID!) { reconstructionJob(id: $id) { id } }",
        "mutation($id: ID!) { cancelReconstruction(id: $id) { id } }",
    ] {
        let v = gql(&app, Some(&erin), q, json!({ "id": id })).await;
        assert_eq!(code(&v).as_deref(), Some("NOT_FOUND"), "{q}: {v}");
    }
    let mut ws = ws_connect(&app, json!({ "authorization": format!("Bearer {erin}") })).await;
    subscribe_job(&mut ws, "1", &id).await;
    let (events, _) = follow(&mut ws).await;
    assert_eq!(
        events[0]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{events:?}"
    );
    let list = gql(
        &app,
        Some(&erin),
        "{ reconstructionJobs { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        list["data"]["reconstructionJobs"]["totalCount"], 0,
        "{list}"
    );
    let list = gql(
        &app,
        Some(&dave),
        "{ reconstructionJobs(filter: {status: QUEUED}) { totalCount edges { node { id owner { username } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        list["data"]["reconstructionJobs"]["totalCount"], 2,
        "{list}"
    );
    assert!(list["data"]["reconstructionJobs"]["edges"][0]["node"]["owner"].is_null());

    let mut ws = ws_connect(&app, json!({ "authorization": format!("Bearer {dave}") })).await;
    subscribe_job(&mut ws, "1", &id).await;
    let cancelled = gql(
        &app,
        Some(&dave),
        "mutation($id: ID!) { cancelReconstruction(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        cancelled["data"]["cancelReconstruction"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let (events, end) = follow(&mut ws).await;
    let last = &events.last().unwrap()["data"]["jobStatus"];
    assert_eq!(last["status"], "CANCELLED", "{events:?}");
    assert_eq!(end["type"], "complete");
    // Cancelled jobs do not count against the quota.
    let fourth = gql(
        &app,
        Some(&dave),
        SUBMIT,
        json!({ "i": m12_input(&["CLEAN"], 9, 65) }),
    )
    .await;
    assert!(
        fourth["data"]["submitReconstruction"]["id"].is_string(),
        "{fourth}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_running_mem_job_stops_when_cancelled() {
    let app = spawn_app_with(&[]).await;
    ingest_m12(&app).await;
    let token = register(&app, "frank").await;
    let input = json!({
        "scienceFileUid": M12_UID,
        "timeRange": { "start": "2022-11-11T11:30:00Z", "end": "2022-11-11T11:40:00Z" },
        "energyRange": { "lowKev": 6.0, "highKev": 10.0 },
        "algorithms": ["MEM"],
        "imageSize": 257,
        "pixelArcsec": 1.0,
        "parameters": { "memMaxIterations": 1000000, "memTolerance": 1e-12 }
    });
    let v = gql(&app, Some(&token), SUBMIT, json!({ "i": input })).await;
    let id = v["data"]["submitReconstruction"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    let mut ws = ws_connect(&app, json!({ "authorization": format!("Bearer {token}") })).await;
    subscribe_job(&mut ws, "1", &id).await;
    // Wait until it is imaging, then cancel.
    loop {
        let f = crate::client::next_frame(&mut ws).await;
        assert_eq!(f["type"], "next", "{f}");
        if f["payload"]["data"]["jobStatus"]["stage"] == "imaging" {
            break;
        }
    }
    let t0 = std::time::Instant::now();
    let c = gql(
        &app,
        Some(&token),
        "mutation($id: ID!) { cancelReconstruction(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        c["data"]["cancelReconstruction"]["status"], "RUNNING",
        "{c}"
    );
    let (events, end) = follow(&mut ws).await;
    assert_eq!(end["type"], "complete", "{end}");
    assert_eq!(
        events.last().unwrap()["data"]["jobStatus"]["status"],
        "CANCELLED",
        "{events:?}"
    );
    assert!(
        t0.elapsed().as_secs() < 30,
        "stopped between iterations: {:?}",
        t0.elapsed()
    );
    app.stop().await;
}

/// Ten users submit fifty jobs at once (five each, each a different minute of the M1.2
/// file, back-projection on 65² pixels): every submission is accepted, every job ends
/// SUCCEEDED after exactly one attempt, and each has exactly its one image.
#[tokio::test]
async fn ten_users_submit_fifty_jobs_at_once() {
    let app = spawn_app_with(&[]).await;
    ingest_m12(&app).await;
    let mut tokens = Vec::new();
    for u in 0..10 {
        tokens.push(register(&app, &format!("crowd{u}")).await);
    }
    let submissions = (0..50).map(|k| {
        let token = tokens[k % 10].clone();
        let app = &app;
        async move {
            let minute = |m: usize| format!("2022-11-11T{:02}:{:02}:00Z", 11 + m / 60, m % 60);
            let input = json!({
                "scienceFileUid": M12_UID,
                "timeRange": { "start": minute(12 + k), "end": minute(13 + k) },
                "energyRange": { "lowKev": 6.0, "highKev": 10.0 },
                "algorithms": ["BP"],
                "imageSize": 65,
            });
            let v = gql(app, Some(&token), SUBMIT, json!({ "i": input })).await;
            v["data"]["submitReconstruction"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("submission {k}: {v}"))
                .to_string()
        }
    });
    let ids: Vec<String> = futures::future::join_all(submissions).await;
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 50, "fifty different jobs");

    let db = &app.state.db;
    let rows = reconstruction_job::Entity::find().all(db).await.unwrap();
    assert_eq!(rows.len(), 50, "one row per submission");
    let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let done = tokio::time::timeout(
        crate::support::TIMEOUT * 6,
        api::archive::wait_for_jobs(&app.state, &row_ids),
    )
    .await
    .expect("all fifty jobs finish in time")
    .unwrap();
    let images = image::Entity::find().all(db).await.unwrap();
    for j in &done {
        assert_eq!(
            j.status, "SUCCEEDED",
            "{:?} {:?}",
            j.error_code, j.error_message
        );
        assert_eq!(j.attempts, 1, "job {} ran exactly once", j.id);
        let mine = images.iter().filter(|i| i.job_id == Some(j.id)).count();
        assert_eq!(mine, 1, "job {} has exactly its one image", j.id);
    }
    assert_eq!(images.len(), 50, "no duplicate image");
    let paths: std::collections::BTreeSet<&String> = images.iter().map(|i| &i.fits_path).collect();
    assert_eq!(paths.len(), 50, "every image has its own file");
    app.stop().await;
}

/// Submissions that arrive together are decided one after another: a user's sixteen different
/// requests at once get exactly the quota's three jobs, and eight copies of one request at once
/// get one job. (On PostgreSQL, where transactions run side by side, this needs the
/// submission's advisory lock.)
#[tokio::test]
async fn simultaneous_submissions_keep_the_quota_and_make_one_job_per_request() {
    // No workers: accepted jobs stay active, so the quota is exact.
    let app = spawn_app_with(&[
        ("STIX__WORKERS__CONCURRENCY", "0"),
        ("STIX__WORKERS__MAX_ACTIVE_JOBS_PER_USER", "3"),
    ])
    .await;
    ingest_m12(&app).await;
    let frank = register(&app, "frank").await;
    let gina = register(&app, "gina").await;
    let submit = |token: String, input: Value| {
        let app = &app;
        async move { gql(app, Some(&token), SUBMIT, json!({ "i": input })).await }
    };
    let answers = futures::future::join_all(
        (0..16u32).map(|k| submit(frank.clone(), m12_input(&["BP"], k, 65))),
    )
    .await;
    let accepted = answers
        .iter()
        .filter(|v| v["data"]["submitReconstruction"]["id"].is_string())
        .count();
    let refused = answers
        .iter()
        .filter(|v| code(v).as_deref() == Some("QUOTA_EXCEEDED"))
        .count();
    let outcomes: Vec<String> = answers
        .iter()
        .map(|v| code(v).unwrap_or_else(|| "accepted".into()))
        .collect();
    assert_eq!((accepted, refused), (3, 13), "{outcomes:?}");

    let copies = futures::future::join_all(
        (0..8).map(|_| submit(gina.clone(), m12_input(&["CLEAN"], 30, 65))),
    )
    .await;
    let ids: std::collections::BTreeSet<&str> = copies
        .iter()
        .map(|v| {
            v["data"]["submitReconstruction"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
        })
        .collect();
    assert_eq!(ids.len(), 1, "eight copies, one job: {ids:?}");
    assert_eq!(
        counts(&app).await,
        (4, 4),
        "four job rows, four queue tasks"
    );
    app.stop().await;
}

/// A user's reconstruction is theirs: other users and anonymous callers do not see it in any
/// listing, and looking it up answers NOT_FOUND (or null for `node`); its owner and admins see it.
#[tokio::test]
async fn another_users_images_are_not_listed_and_not_found() {
    let app = spawn_app_with(&[]).await;
    ingest_m12(&app).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let admin = crate::client::admin_token(&app, "root").await;
    let v = gql(
        &app,
        Some(&alice),
        SUBMIT,
        json!({ "i": m12_input(&["BP"], 0, 65) }),
    )
    .await;
    let job = v["data"]["submitReconstruction"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    let rows = reconstruction_job::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let done = tokio::time::timeout(
        crate::support::TIMEOUT * 2,
        api::archive::wait_for_jobs(&app.state, &[rows[0].id]),
    )
    .await
    .expect("the job ends in time")
    .unwrap();
    assert_eq!(done[0].status, "SUCCEEDED", "{job}");
    let img = image::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let gid = api::graphql::global_id::encode(
        api::graphql::global_id::NodeKind::Image,
        &img.public_id.to_string(),
    );
    let listing = "query($id: ID!) { images(first: 10, filter: {kind: USER}) { totalCount } scienceFile(uid: 2211116471) { images(first: 10) { totalCount } } node(id: $id) { id } }";
    let lookup = "query($id: ID!) { image(id: $id) { id } }";
    for (who, token, visible) in [
        ("alice", Some(alice.as_str()), true),
        ("admin", Some(admin.as_str()), true),
        ("bob", Some(bob.as_str()), false),
        ("anonymous", None, false),
    ] {
        let n = usize::from(visible);
        let v = gql(&app, token, listing, json!({ "id": gid })).await;
        assert_eq!(v["data"]["images"]["totalCount"], n, "{who}: {v}");
        assert_eq!(
            v["data"]["scienceFile"]["images"]["totalCount"], n,
            "{who}: {v}"
        );
        assert_eq!(v["data"]["node"].is_null(), !visible, "{who}: {v}");
        let v = gql(&app, token, lookup, json!({ "id": gid })).await;
        if visible {
            assert_eq!(v["data"]["image"]["id"], gid.as_str(), "{who}: {v}");
        } else {
            assert_eq!(code(&v).as_deref(), Some("NOT_FOUND"), "{who}: {v}");
        }
        let v = gql(
            &app,
            token,
            "mutation($id: ID!) { createAnimation(input: {imageIds: [$id]}) { id } }",
            json!({ "id": gid }),
        )
        .await;
        assert_eq!(code(&v).is_none(), visible, "{who}: {v}");
        // The CSV export follows the same rule (a bearer token adds the caller's own).
        let mut req =
            reqwest::Client::new().get(format!("{}/export/images.csv?kind=USER", app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let csv = req.send().await.unwrap().text().await.unwrap();
        assert_eq!(csv.lines().count(), 1 + n, "{who}: {csv}");
    }
    app.stop().await;
}
