//! Every setting is a flag, a `LOUPE_*` environment variable, and a key of
//! the optional TOML file given by `--config`; a flag beats the environment,
//! which beats the file, which beats the default.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _};

use crate::cli::Cli;

/// Parses the command line; for `serve`, `report` and `demo` with `--config FILE`,
/// fills every setting still at its default from the file.
pub fn parse(args: Vec<String>) -> anyhow::Result<Cli> {
    let matches = Cli::command()
        .try_get_matches_from(&args)
        .unwrap_or_else(|e| e.exit());
    let Some((name @ ("serve" | "report" | "demo"), sub)) = matches.subcommand() else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let Some(path) = sub.get_one::<PathBuf>("config") else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let from_file = file_args(path, name, sub)?;
    // The file's settings go before the user's, which override them.
    let serve_at = args.iter().position(|a| a == name).unwrap_or(1);
    let mut merged = args[..=serve_at].to_vec();
    merged.extend(from_file);
    merged.extend(args[serve_at + 1..].iter().cloned());
    // The command line alone parsed, so a failure now is the file's.
    let matches = Cli::command()
        .try_get_matches_from(&merged)
        .map_err(|err| {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            anyhow::anyhow!(
                "config file {}: {}",
                path.display(),
                first.trim_start_matches("error: ")
            )
        })?;
    Ok(Cli::from_arg_matches(&matches)?)
}

fn file_args(path: &Path, subcommand: &str, serve: &ArgMatches) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|err: toml::de::Error| {
        let at = err.span().map_or(0, |span| span.start).min(text.len());
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        anyhow::anyhow!(
            "config file {} is not valid TOML: line {line}, column {column}: {}",
            path.display(),
            err.message()
        )
    })?;
    let known: Vec<String> = Cli::command()
        .find_subcommand(subcommand)
        .map(|c| {
            c.get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_positional())
                .map(|a| a.get_id().to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut args = Vec::new();
    for (key, value) in table {
        let id = key.replace('-', "_");
        if id == "config" || !known.contains(&id) {
            bail!(
                "config file {}: unknown setting {key:?} (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        if serve.value_source(&id) != Some(ValueSource::DefaultValue) {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| item.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => bail!(
                "config file {}: {key} cannot be {}",
                path.display(),
                other.type_str()
            ),
        };
        args.push(format!("--{}", id.replace('_', "-")));
        args.push(value);
    }
    Ok(args)
}
