//! The schema migrates up and down on the configured engine, and start-up is idempotent.

use crate::support::{fresh_database_url, test_settings};
use sea_orm::ConnectionTrait;

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let settings = test_settings(&url, &dir.path().join("store"), &[]);
    let db = jobs::store::connect(&settings.database.url, 2, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    jobs::store::migrate(&db).await.unwrap();
    jobs::store::migrate(&db)
        .await
        .expect("running migrations twice is harmless");
    for table in [
        "science_files",
        "flares",
        "flare_science_files",
        "images",
        "reconstruction_jobs",
        "users",
    ] {
        db.execute_unprepared(&format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    jobs::store::migrate_down(&db).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT COUNT(*) FROM images")
            .await
            .is_err(),
        "down drops the tables"
    );
    jobs::store::migrate(&db).await.unwrap();
    db.execute_unprepared("SELECT COUNT(*) FROM images")
        .await
        .unwrap();
}
