//! The architecture, checked: every `crate::`/`super::` path in `src/` (test
//! modules left out) is an arrow from one file to another. Arrows point only
//! down the layers DESIGN.md draws, and no set of files imports itself in a
//! circle. Run with `cargo test --test layers`; a failure names each back edge
//! and each circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of each top-level module, lowest first. An arrow may point to a
/// lower layer only (`cli` may launch `tui`, nothing else on one layer).
fn layer(top: &str) -> Option<u8> {
    Some(match top {
        "cancel" | "units" | "process" | "secrets" | "sys" | "ids" | "text" => 0,
        "config" => 1,
        "repo" | "install" => 2,
        "ops" => 3,
        "notify" => 4,
        "tui" => 5,
        "cli" => 6,
        // Outside the product's layers: the stand-ins and the demo; the product
        // never imports them, except the CLI's `demo` command.
        "standin" => 7,
        "demo" => 8,
        "" | "main" => 9,
        _ => return None,
    })
}

fn allowed(from: &str, to: &str) -> bool {
    match (from, to) {
        ("cli", "demo") => true,
        (_, "demo" | "standin") => matches!(from, "demo" | "standin" | "main"),
        ("standin" | "demo", _) => true,
        // Leaf modules may use each other (a circle among them still fails).
        _ => matches!((layer(from), layer(to)), (Some(a), Some(b)) if b < a || a == 0 && b == 0),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    if parts.first().map(String::as_str) == Some("bin") {
        return "main".into();
    }
    parts.join("::")
}

/// The code of a file without its `#[cfg(test)]` modules (tests may reach anywhere).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else { break };
        let is_mod = after[..open].contains("mod ");
        if !is_mod {
            out.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (i, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    // Comments name modules without importing them.
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each path starting with `crate::`, `$crate::` or `super::` in `code`, as segments.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let start_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let (supers, skip) = if start_ok && rest.starts_with("crate::") {
            (0, "crate::".len())
        } else if start_ok && rest.starts_with("super::") {
            let mut n = 0;
            let mut s = rest;
            while let Some(r) = s.strip_prefix("super::") {
                n += 1;
                s = r;
            }
            (n, rest.len() - s.len())
        } else {
            i += 1;
            continue;
        };
        let tail = &rest[skip..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let segs: Vec<String> = tail[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        // `use crate::a::{b, c::d}`: each item of the group is a path of its own.
        if tail[end..].starts_with('{') {
            let close = tail[end..].find('}').map_or(tail.len(), |c| end + c);
            for item in tail[end + 1..close].split(',') {
                let mut s = segs.clone();
                s.extend(
                    item.trim()
                        .split("::")
                        .map(|x| x.split_whitespace().next().unwrap_or("").to_string())
                        .filter(|x| !x.is_empty() && x != "self"),
                );
                found.push((supers, s));
            }
        } else {
            found.push((supers, segs));
        }
        i += skip + end.max(1);
    }
    found
}

/// Whether `code` uses `name::…` as a path of its own (not `x::name::…`).
fn names_child(code: &str, name: &str) -> bool {
    let needle = format!("{name}::");
    code.match_indices(&needle).any(|(at, _)| {
        let before = &code[..at];
        let prev = before.chars().next_back();
        let word_start = !prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let not_nested = !before.ends_with("::") || before.ends_with("self::");
        word_start && not_nested
    })
}

struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        let own: Vec<String> = if m.is_empty() || m == "main" {
            vec![]
        } else {
            m.split("::").map(str::to_string).collect()
        };
        let code = without_tests(&std::fs::read_to_string(f).unwrap());
        for (supers, segs) in paths(&code) {
            let mut full: Vec<String> = if supers == 0 {
                vec![]
            } else {
                // `super` is the parent module, for `a/b.rs` and `a/b/mod.rs` alike.
                own[..own.len().saturating_sub(supers)].to_vec()
            };
            full.extend(segs);
            // The longest prefix that is a file.
            let target = (1..=full.len())
                .rev()
                .map(|n| full[..n].join("::"))
                .find(|c| modules.contains(c));
            if let Some(t) = target.filter(|t| *t != m) {
                edges.entry(m.clone()).or_default().insert(t);
            }
        }
        // A parent names its children without `crate::` (`compose::create()`).
        let prefix = if m.is_empty() {
            String::new()
        } else {
            format!("{m}::")
        };
        for child in modules.iter().filter(|c| {
            c.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains("::"))
        }) {
            let name = &child[prefix.len()..];
            if names_child(&code, name) {
                edges.entry(m.clone()).or_default().insert(child.clone());
            }
        }
    }
    Graph { modules, edges }
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or("")
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        if let Some(ws) = t.g.edges.get(v) {
            for w in ws {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(lw));
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(iw));
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for m in &g.modules {
        if !t.index.contains_key(m.as_str()) {
            visit(&mut t, m);
        }
    }
    t.out
}

#[test]
fn every_arrow_points_down_the_layers() {
    let g = graph();
    let mut back = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            let (a, b) = (top(from), top(to));
            if a != b && !allowed(a, b) {
                back.push(format!("{from} → {to}"));
            }
        }
    }
    assert!(
        back.is_empty(),
        "arrows against the layers (see DESIGN.md):\n{}",
        back.join("\n")
    );
    for m in &g.modules {
        assert!(
            layer(top(m)).is_some(),
            "{m} has no layer: add it to tests/layers.rs"
        );
    }
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let found = circles(&graph());
    let text: Vec<String> = found.iter().map(|c| c.join(" ⇄ ")).collect();
    assert!(found.is_empty(), "import circles:\n{}", text.join("\n"));
}

#[test]
fn the_checker_sees_arrows() {
    // A guard against a checker that passes because it reads nothing.
    let g = graph();
    assert!(g.modules.len() > 50, "{}", g.modules.len());
    assert!(g
        .edges
        .get("ops::backup")
        .is_some_and(|e| e.contains("ops::window")));
    assert!(g
        .edges
        .get("cli")
        .is_some_and(|e| e.iter().any(|t| t.starts_with("ops"))));
}
