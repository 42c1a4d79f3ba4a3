//! End-to-end tests: a real `loupe serve` on port 0, driven through its
//! OTLP receivers and read back through its JSON API.

mod ask_why;
mod auth;
mod bad_input;
mod config;
mod demo;
mod export_import;
mod faults;
mod jaeger;
mod layout;
mod max_size;
mod overload;
mod postgres;
mod report_rollups;
mod reports;
mod retention;
mod roundtrip;
mod startup;
mod support;
mod system;
mod tls;
mod ui;
mod ui_failures;
mod ui_logs;
mod ui_pages;
mod ui_service;
mod what_to_drop;
