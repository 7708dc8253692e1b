//! End-to-end tests: the real server (the production start-up path) on port 0, a real
//! database (a fresh SQLite file per test, or a fresh PostgreSQL database per test when
//! `TEST_DATABASE_URL` is set), real HTTP and WebSocket clients. Waits are on events with
//! timeouts, never fixed sleeps.

mod admin;
mod animations;
mod archive_api;
mod archive_browser;
mod archive_pages;
mod basics;
mod client;
mod downloads;
mod graphiql;
mod jobs_ws;
mod migrations;
mod ops;
mod pipeline;
mod protocol;
mod storage_s3;
mod support;
mod users;
