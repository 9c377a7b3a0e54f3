//! The container deployment in `deploy/` kept true to the code: `.env.example` names every `PARLEY_*`
//! variable that `parleyd --help` lists, with the same defaults, and `envoy-compose.yaml` is what
//! `deploy/cluster.sh` makes from `envoy.yaml`. (CI also validates both files with the real tools:
//! `docker-compose config` and `envoy --mode validate`, see `.ci/run`.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every environment variable `parleyd --help` lists, with its default when it has one.
fn variables_in_help() -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parleyd"));
    // Set variables would show up as values; the defaults are what this compares.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        command.env_remove(key);
    }
    let output = command.arg("--help").output()?;
    anyhow::ensure!(output.status.success(), "parleyd --help failed: {output:?}");
    let help = String::from_utf8(output.stdout)?;
    let lines: Vec<&str> = help.lines().map(str::trim).collect();
    let mut variables = BTreeMap::new();
    // clap prints `[env: NAME=]` and, on the next line, `[default: VALUE]` when there is one.
    for (i, line) in lines.iter().enumerate() {
        let Some(env) = line.strip_prefix("[env: ") else { continue };
        let name = env.split(['=', ']']).next().unwrap_or_default().to_owned();
        let default = lines.get(i + 1).and_then(|l| l.strip_prefix("[default: ")).and_then(|d| d.strip_suffix(']'));
        variables.insert(name, default.map(str::to_owned));
    }
    Ok(variables)
}

#[test]
fn env_example_names_every_variable_with_its_default() -> anyhow::Result<()> {
    let expected = variables_in_help()?;
    assert!(
        expected.contains_key("PARLEY_LISTEN") && expected.contains_key("PARLEY_LOG"),
        "--help no longer looks as this test reads it: {expected:?}"
    );
    let example = std::fs::read_to_string(repo().join("deploy/.env.example"))?;
    // Settings are `NAME=VALUE`, or `# NAME=VALUE` when left at the default.
    let mut listed = BTreeMap::new();
    for line in example.lines() {
        let setting = line.strip_prefix('#').unwrap_or(line).trim_start();
        let Some((name, value)) = setting.split_once('=') else { continue };
        if name.starts_with("PARLEY_") && !name.contains(char::is_whitespace) {
            assert!(listed.insert(name, value).is_none(), "{name} is in .env.example twice");
        }
    }
    let missing: Vec<&String> = expected.keys().filter(|name| !listed.contains_key(name.as_str())).collect();
    let unknown: Vec<&&str> = listed.keys().filter(|name| !expected.contains_key(**name)).collect();
    assert!(missing.is_empty(), "deploy/.env.example lacks {missing:?}");
    assert!(unknown.is_empty(), "deploy/.env.example names {unknown:?}, which parleyd does not read");
    for (name, default) in &expected {
        if let Some(default) = default {
            assert_eq!(listed[name.as_str()], default, "the default of {name} in deploy/.env.example");
        }
    }
    Ok(())
}

#[test]
fn envoy_compose_config_is_what_cluster_sh_makes() -> anyhow::Result<()> {
    let made = std::process::Command::new("bash")
        .args(["deploy/cluster.sh", "envoy-config", "parleyd-1:50051", "parleyd-2:50051"])
        .current_dir(repo())
        .output()?;
    assert!(made.status.success(), "deploy/cluster.sh envoy-config failed: {made:?}");
    let committed = std::fs::read_to_string(repo().join("deploy/envoy-compose.yaml"))?;
    // Its first line says how it was made.
    let (first, rest) = committed.split_once('\n').unwrap_or_default();
    assert!(first.contains("cluster.sh envoy-config parleyd-1:50051 parleyd-2:50051"), "{first}");
    assert_eq!(
        rest,
        String::from_utf8(made.stdout)?,
        "deploy/envoy-compose.yaml is stale: make it again as its first line says"
    );
    Ok(())
}
