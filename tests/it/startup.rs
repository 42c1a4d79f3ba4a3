//! Start-up errors are one line saying what to do, with exit status 1:
//! the real binary, each case set up for real (a port taken, a PostgreSQL
//! that refuses connections, broken config files).

use std::net::TcpListener;
use std::process::Command;

/// `loupe ARGS` run to its end: (exit code, stderr).
fn loupe(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .env("LOUPE_LOG", "info")
        .output()
        .expect("loupe runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn start_up_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/loupe.db", dir.path().display());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    // A port nothing listens on: bound, then let go.
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("postgres://postgres@127.0.0.1:{refused}/loupe");
    let nobody_home = format!("http://127.0.0.1:{refused}");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let broken_toml = write("broken.toml", "queue_items = 5\nui_addr = [\n");
    let unknown_key = write("unknown.toml", "colour = \"blue\"\n");
    let bad_value = write("value.toml", "queue_items = \"many\"\n");
    let any_port = [
        "--otlp-grpc-addr",
        "127.0.0.1:0",
        "--otlp-http-addr",
        "127.0.0.1:0",
    ];

    let cases: Vec<(&str, Vec<&str>, String)> = vec![
        (
            "port taken",
            [&["serve", "--database-url", &sqlite, "--ui-addr", &taken_addr][..], &any_port].concat(),
            format!("loupe: cannot listen for the UI on {taken_addr}: is another process using it? choose another address with the flag or variable shown by `loupe serve --help`: "),
        ),
        (
            "PostgreSQL unreachable",
            [&["serve", "--database-url", &unreachable, "--ui-addr", "127.0.0.1:0"][..], &any_port].concat(),
            format!("loupe: cannot open database {unreachable}: PostgreSQL at 127.0.0.1:{refused} cannot be reached ("),
        ),
        (
            "config file is not TOML",
            vec!["serve", "--config", &broken_toml],
            format!("loupe: config file {broken_toml} is not valid TOML: line 2, column "),
        ),
        (
            "config file has an unknown setting",
            vec!["serve", "--config", &unknown_key],
            format!("loupe: config file {unknown_key}: unknown setting \"colour\" (known: "),
        ),
        (
            "config file has a bad value",
            vec!["serve", "--config", &bad_value],
            format!("loupe: config file {bad_value}: invalid value 'many' for '--queue-items"),
        ),
        (
            "database URL of another kind",
            vec!["serve", "--database-url", "mysql://db/loupe"],
            "loupe: cannot open database mysql://db/loupe: unsupported database url \"mysql://db/loupe\": use sqlite://PATH or postgres://".to_owned(),
        ),
        (
            "SQLite in memory, which the writer's own connection could not share",
            vec!["serve", "--database-url", "sqlite::memory:"],
            "loupe: cannot open database sqlite::memory:: unsupported database url \"sqlite::memory:\": use sqlite://PATH or postgres://".to_owned(),
        ),
        (
            "demo with nothing at its endpoint",
            vec!["demo", "--endpoint", &nobody_home, "--backfill", "1m"],
            format!("loupe: cannot reach loupe at http://127.0.0.1:{refused}/v1/traces ("),
        ),
    ];
    for (case, args, expected) in cases {
        let (code, stderr) = loupe(&args);
        assert_eq!(code, Some(1), "{case}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{case}: one line, got {stderr:?}");
        assert!(
            lines[0].starts_with(&expected),
            "{case}:\n  got      {}\n  expected {expected}…",
            lines[0]
        );
    }
    drop(taken);
}
