//! The layout of the source, checked rather than hoped for: no module of a
//! crate imports, directly or through others, a module that imports it
//! back (the crate root included, and `#[cfg(test)]` code too), and no
//! source file outside the tests grows past `MAX_LINES`.
//!
//! A module is a file (`mod.rs`, `lib.rs` and `main.rs` stand for their
//! folder or crate). An import is any path into another module:
//! `crate::a::b`, `super::x`, `self::x`, a child module's name, and each
//! item of `use crate::{…}`. Inline `mod tests { … }` blocks belong to
//! their file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = ["src", "store/src", "collector/src", "web/src"];

/// Past this a file is a module waiting to be split; the OTLP/JSON mapping
/// is one long table of the specification's messages.
const MAX_LINES: usize = 1200;
const LONG_BY_NATURE: [&str; 1] = ["collector/src/otlp_json.rs"];

#[test]
fn no_crate_has_an_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cycles = Vec::new();
    for krate in CRATES {
        let graph = imports(&root.join(krate));
        assert!(
            graph.len() > 3,
            "{krate}: only {} modules found",
            graph.len()
        );
        for cycle in cycles_of(&graph) {
            let edges: Vec<String> = cycle
                .iter()
                .map(|m| {
                    let to: Vec<&str> = graph[m]
                        .iter()
                        .filter(|t| cycle.contains(*t))
                        .map(|t| name(t))
                        .collect();
                    format!("{} -> {}", name(m), to.join(", "))
                })
                .collect();
            cycles.push(format!("{krate}: {}", edges.join("; ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn no_source_file_is_too_long() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for krate in CRATES {
        for file in rust_files(&root.join(krate)) {
            let relative = file.strip_prefix(root).expect("under the root");
            let lines = std::fs::read_to_string(&file)
                .expect("read")
                .lines()
                .count();
            if lines > MAX_LINES && !LONG_BY_NATURE.iter().any(|f| relative == Path::new(f)) {
                long.push(format!("{} has {lines} lines", relative.display()));
            }
        }
    }
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_checker_sees_what_it_must() {
    let check = |files: &[(&str, &str)], expected: &[&[&str]]| {
        let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.to_string()).collect();
        let graph: BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .map(|(m, text)| (m.to_string(), edges(m, text, &modules)))
            .collect();
        let found: Vec<Vec<String>> = cycles_of(&graph);
        let expected: Vec<Vec<String>> = expected
            .iter()
            .map(|c| c.iter().map(|m| m.to_string()).collect())
            .collect();
        assert_eq!(found, expected, "{files:?}");
    };
    // A root that uses a module which uses the root's items.
    check(
        &[("", "pub use a::X; pub struct E;"), ("a", "use crate::E;")],
        &[&["", "a"]],
    );
    // Grouped imports, `super` from a child, bare child names.
    check(
        &[
            ("p", "fn f() { c::g() }"),
            ("p::c", "use super::{d, Z}; fn g() {}"),
            ("p::d", ""),
        ],
        &[&["p", "p::c"]],
    );
    // Paths in comments and strings are no imports; `super` inside an
    // inline `mod tests` is its own file.
    check(
        &[
            (
                "a",
                "// crate::b\nconst S: &str = \"crate::b\"; mod tests { use super::*; }",
            ),
            ("b", "use crate::a;"),
        ],
        &[],
    );
    // Through a third module, from test code.
    check(
        &[
            ("a", "use crate::b;"),
            ("b", "use crate::c;"),
            ("c", "#[cfg(test)] mod tests { use crate::a::x; }"),
        ],
        &[&["a", "b", "c"]],
    );
}

fn name(module: &str) -> &str {
    if module.is_empty() { "(root)" } else { module }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Module path (`a::b`, "" for the root) → the modules it imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, String)> = rust_files(src)
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("lib" | "main" | "mod")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).expect("read source");
            (parts.join("::"), text)
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    files
        .iter()
        .map(|(module, text)| (module.clone(), edges(module, text, &modules)))
        .collect()
}

/// The modules `text`, the source of `module`, names.
fn edges(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_only(text);
    let inline = inline_modules(&code);
    let here: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut found = BTreeSet::new();
    for (at, path) in paths(&code) {
        let depth = inline.iter().filter(|(a, b)| *a <= at && at < *b).count();
        if let Some(target) = resolve(&here, &path, depth, modules)
            && target != module
        {
            found.insert(target);
        }
    }
    found
}

/// The module a path starts in, then as deep as the path names modules;
/// `None` when it does not start in this crate. `super` first leaves the
/// inline modules the path is written in.
fn resolve(
    here: &[&str],
    path: &[String],
    mut inline_depth: usize,
    modules: &BTreeSet<String>,
) -> Option<String> {
    let mut parts = path.iter().map(String::as_str).peekable();
    let mut base: Vec<&str> = match *parts.peek()? {
        "crate" | "$crate" => {
            parts.next();
            Vec::new()
        }
        "self" => {
            parts.next();
            here.to_vec()
        }
        "super" => here.to_vec(),
        first => {
            let mut child = here.to_vec();
            child.push(first);
            if !modules.contains(&child.join("::")) {
                return None;
            }
            here.to_vec()
        }
    };
    while parts.peek() == Some(&"super") {
        parts.next();
        if inline_depth > 0 {
            inline_depth -= 1;
        } else {
            base.pop();
        }
    }
    let mut best = base.join("::");
    for part in parts {
        base.push(part);
        let candidate = base.join("::");
        if !modules.contains(&candidate) {
            break;
        }
        best = candidate;
    }
    Some(best)
}

/// Every path of two or more segments, with where it starts; each item of
/// a grouped `use a::{b, c::d}` as a path of its own.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let start = i;
        let mut segments = Vec::new();
        loop {
            let from = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            segments.push(code[from..i].to_owned());
            if code[i..].starts_with("::") && code[i + 2..].starts_with('{') {
                let close = matching_brace(code, i + 2);
                for item in group_items(&code[i + 3..close]) {
                    let mut path = segments.clone();
                    path.extend(item);
                    out.push((start, path));
                }
                i = close;
                break;
            }
            if code[i..].starts_with("::") && i + 2 < bytes.len() && ident(bytes[i + 2]) {
                i += 2;
                continue;
            }
            if segments.len() > 1 {
                out.push((start, segments.clone()));
            }
            break;
        }
        i = i.max(start + 1);
    }
    out
}

/// The items of a `use` group: `b, c::d, e::{f, g}, self`.
fn group_items(group: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut from) = (0, 0);
    let mut pieces = Vec::new();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                pieces.push(&group[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&group[from..]);
    for piece in pieces {
        let piece = piece.split(" as ").next().unwrap_or("").trim();
        if piece.is_empty() || piece == "self" || piece == "*" {
            items.push(Vec::new());
        } else if let Some((head, inner)) = piece.split_once("::{") {
            let head: Vec<String> = head.split("::").map(|s| s.trim().to_owned()).collect();
            for item in group_items(inner.trim_end_matches('}')) {
                items.push(head.iter().cloned().chain(item).collect());
            }
        } else {
            items.push(piece.split("::").map(|s| s.trim().to_owned()).collect());
        }
    }
    items
}

fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// The byte ranges of inline `mod name { … }` blocks.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("mod ") {
        let at = from + at;
        from = at + 4;
        if at > 0 && code.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &code[at + 4..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[name_len..].trim_start();
        if name_len > 0 && after.starts_with('{') {
            let open = code.len() - after.len();
            blocks.push((open, matching_brace(code, open)));
        }
    }
    blocks
}

/// The source with comments, strings and character literals blanked (same
/// length, so that positions hold).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, cs: &[char]| {
        for c in cs {
            out.push(if *c == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let starts = |s: &str| s.chars().enumerate().all(|(k, c)| rest.get(k) == Some(&c));
        let end = if starts("//") {
            rest.iter().position(|c| *c == '\n').unwrap_or(rest.len())
        } else if starts("/*") {
            let (mut depth, mut k) = (0, 0);
            while k < rest.len() {
                if rest[k..].starts_with(&['/', '*']) {
                    depth += 1;
                    k += 2;
                } else if rest[k..].starts_with(&['*', '/']) {
                    depth -= 1;
                    k += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    k += 1;
                }
            }
            k
        } else if rest[0] == 'r'
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
            && rest[1..].iter().take_while(|c| **c == '#').count() + 1 < rest.len()
            && rest[1 + rest[1..].iter().take_while(|c| **c == '#').count()] == '"'
        {
            let hashes = rest[1..].iter().take_while(|c| **c == '#').count();
            let body = 2 + hashes;
            let mut k = body;
            while k < rest.len()
                && !(rest[k] == '"' && rest[k + 1..].iter().take(hashes).all(|c| *c == '#'))
            {
                k += 1;
            }
            (k + 1 + hashes).min(rest.len())
        } else if rest[0] == '"' {
            let mut k = 1;
            while k < rest.len() && rest[k] != '"' {
                k += if rest[k] == '\\' { 2 } else { 1 };
            }
            (k + 1).min(rest.len())
        } else if rest[0] == '\'' && rest.len() > 2 && (rest[2] == '\'' || rest[1] == '\\') {
            // A character literal; a lifetime (`'a`) has no closing quote.
            let mut k = if rest[1] == '\\' { 2 } else { 1 };
            while k < rest.len() && rest[k] != '\'' {
                k += 1;
            }
            (k + 1).min(rest.len())
        } else {
            0
        };
        if end == 0 {
            out.push(rest[0]);
            i += 1;
        } else {
            blank(&mut out, &rest[..end]);
            i += end;
        }
    }
    out
}

/// The strongly connected components of more than one module, each sorted,
/// in order (Tarjan's algorithm, iteratively).
fn cycles_of(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = graph.keys().collect();
    let index_of: BTreeMap<&String, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let successors: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            graph[*n]
                .iter()
                .filter_map(|t| index_of.get(t).copied())
                .collect()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut next, mut components) = (Vec::new(), 0, Vec::new());
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0)];
        while let Some((v, child)) = work.pop() {
            if child == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = successors[v].get(child) {
                work.push((v, child + 1));
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("on the stack");
                    on_stack[w] = false;
                    component.push(nodes[w].clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    components.push(component);
                }
            }
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
        }
    }
    components.sort();
    components
}
