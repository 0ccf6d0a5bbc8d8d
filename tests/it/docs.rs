//! The documentation cannot drift from the binary: the command reference is rendered
//! from the binary's own help (`WABOT_BLESS=1 cargo test docs` rewrites it), and every
//! relative link in the README and docs/ resolves to a file and heading that exist.

use std::path::{Path, PathBuf};

use crate::common::Sandbox;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names a `Commands:` section of a help text lists, `help` left out.
fn commands_in(help: &str) -> Vec<String> {
    let Some(section) = help.split("Commands:").nth(1) else {
        return Vec::new();
    };
    section
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

fn render_reference(sandbox: &Sandbox) -> String {
    let mut page = String::from(
        "# Command reference\n\n\
         Every command with its options, as `wabot COMMAND --help` prints them. Generated \
         from the binary by `WABOT_BLESS=1 cargo test docs`; a test fails when it drifts. \
         Back to the [docs index](README.md).\n",
    );
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        // One width wherever the test runs: clap reads COLUMNS before the terminal.
        let out = sandbox.cmd(&args).env("COLUMNS", "100").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let heading = std::iter::once("wabot")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        page.push_str(&format!(
            "\n## {heading}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
        for sub in commands_in(&help).into_iter().rev() {
            let mut next = path.clone();
            next.push(sub);
            pending.push(next);
        }
    }
    page
}

#[test]
fn the_command_reference_is_the_binarys_own_help() {
    let sandbox = Sandbox::empty();
    let rendered = render_reference(&sandbox);
    let file = root().join("docs/commands.md");
    if std::env::var_os("WABOT_BLESS").is_some() {
        std::fs::write(&file, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(rendered.contains("\n## wabot search\n"), "{rendered}");
    assert!(
        rendered.contains("\n## wabot outbox list\n"),
        "nested commands too"
    );
    assert!(
        committed == rendered,
        "docs/commands.md is not the binary's help: run `WABOT_BLESS=1 cargo test docs`"
    );
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages
}

#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (_, rest) in text.match_indices("](").map(|(i, _)| ((), &text[i + 2..])) {
            let Some(link) = rest.split([')', ' ']).next() else {
                continue;
            };
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link}", page.display()));
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                let headings: Vec<String> = std::fs::read_to_string(&target)
                    .unwrap()
                    .lines()
                    .filter(|l| l.starts_with('#'))
                    .map(|l| slug(&l.trim_start_matches('#').replace(['`', '*'], "")))
                    .collect();
                if !headings.iter().any(|h| h == anchor) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(pages().len() > 5, "docs/ has its pages");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
