//! Settings come from flags, then the environment, then the config file.

use loupe::cli::Command;
use loupe::config;

fn serve(args: &[&str]) -> anyhow::Result<loupe::ServeConfig> {
    let argv = std::iter::once("loupe")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    match config::parse(argv)?.command {
        Command::Serve(config) => Ok(config),
        other => panic!("parsed {other:?}"),
    }
}

#[test]
fn defaults_match_the_contract() {
    let config = serve(&["serve"]).unwrap();
    assert_eq!(config.database_url, "sqlite://loupe.db");
    assert_eq!(config.otlp_grpc_addr.to_string(), "127.0.0.1:4317");
    assert_eq!(config.otlp_http_addr.to_string(), "127.0.0.1:4318");
    assert_eq!(config.ui_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(config.max_body_bytes, 16 * 1024 * 1024);
    assert_eq!(
        config.request_id_keys,
        [
            "request_id",
            "request.id",
            "http.request.header.x-request-id",
            "http.request.header.x_request_id",
            "x-request-id",
            "correlation_id"
        ]
    );
}

#[test]
fn the_file_fills_what_flags_leave_at_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loupe.toml");
    std::fs::write(&file, "database-url = \"postgres://db/loupe\"\nqueue_items = 7\nui_addr = \"127.0.0.1:9999\"\nrequest_id_keys = [\"rid\", \"trace.request\"]\n").unwrap();
    let path = file.to_str().unwrap();
    let config = serve(&["serve", "--config", path, "--ui-addr", "127.0.0.1:1234"]).unwrap();
    assert_eq!(config.database_url, "postgres://db/loupe");
    assert_eq!(config.queue_items, 7);
    assert_eq!(
        config.ui_addr.to_string(),
        "127.0.0.1:1234",
        "a flag beats the file"
    );
    assert_eq!(config.request_id_keys, ["rid", "trace.request"]);
    assert_eq!(config.otlp_http_addr.to_string(), "127.0.0.1:4318");
}

#[test]
fn a_bad_config_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loupe.toml");
    for (text, expected) in [
        ("colour = \"blue\"\n", "unknown setting \"colour\""),
        ("queue_items = [\n", "not valid TOML"),
        ("queue_items = { a = 1 }\n", "queue_items cannot be table"),
    ] {
        std::fs::write(&file, text).unwrap();
        let error = serve(&["serve", "--config", file.to_str().unwrap()]).unwrap_err();
        assert!(format!("{error:#}").contains(expected), "{text}: {error:#}");
    }
    let error = serve(&["serve", "--config", "/nonexistent/loupe.toml"]).unwrap_err();
    assert!(
        format!("{error:#}").contains("cannot read config file"),
        "{error:#}"
    );
}
