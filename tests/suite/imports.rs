//! The workspace has no import circle: within each crate, the modules that
//! refer to each other by path (`use crate::a::B`, `super::C`, `child::D`)
//! form a graph without cycles, so imports flow one way. Cargo already
//! forbids circles between crates.
//!
//! This reads the source as text, which is enough for the paths this
//! workspace writes: comments and string literals are stripped first, `use`
//! trees are expanded, and a crate root's re-exports (its facade) are not
//! edges, since a root only declares and re-exports.

use dynsim_tests::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module: its path in the crate (`""` for the root, `a::b`), its text
/// without comments and strings, and the child modules it declares.
struct Module {
    path: String,
    file: PathBuf,
    text: String,
    children: BTreeSet<String>,
}

/// Every crate root of the workspace whose modules are checked.
const ROOTS: &[&str] = &[
    "sim-core/src/lib.rs",
    "dynamo-model/src/lib.rs",
    "observer/src/lib.rs",
    "cli/src/lib.rs",
    "tests/src/lib.rs",
    "tests/suite/main.rs",
    "fuzz/src/main.rs",
];

/// Blanks out comments, string and char literals (keeping line breaks), so
/// a path inside them is not read as a reference.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_ident(&b, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            let mut j = i + 2;
            while j < b.len() && b[j] != '\'' {
                j += 1;
            }
            if b.get(i + 2) == Some(&'\'') {
                j = i + 3;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The `mod name;` declarations of a module's own text (not inside an inline module).
fn declared_files(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub(crate) mod ")
                .or_else(|| l.strip_prefix("pub mod "))
                .or_else(|| l.strip_prefix("mod "))?;
            let name = rest.strip_suffix(';')?;
            name.chars().all(is_ident).then(|| name.to_string())
        })
        .collect()
}

/// Splits out inline modules (`mod name { ... }`): each becomes a module
/// of its own, and its text leaves the parent's.
fn split_inline(path: &str, file: &Path, text: &str, out: &mut Vec<Module>) -> String {
    let mut parent = String::new();
    let mut rest = text;
    let mut children = BTreeSet::new();
    while let Some(at) = find_inline_mod(rest) {
        let (before, from) = rest.split_at(at.0);
        parent.push_str(before);
        let open = at.1 - at.0;
        let body_start = open + 1;
        let mut depth = 1;
        let mut end = body_start;
        for (k, ch) in from[body_start..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body_start + k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let name = at.2.clone();
        children.insert(name.clone());
        let child_path = join(path, &name);
        let body = &from[body_start..end];
        let child_text = split_inline(&child_path, file, body, out);
        out.push(Module {
            children: declared_files(&child_text).into_iter().collect(),
            path: child_path,
            file: file.to_path_buf(),
            text: child_text,
        });
        // Keep the line count; drop the body.
        parent.push_str(&"\n".repeat(from[..=end.min(from.len() - 1)].matches('\n').count()));
        rest = &from[(end + 1).min(from.len())..];
    }
    parent.push_str(rest);
    let _ = children;
    parent
}

/// The next `mod name {` in `text`: (start, index of `{`, name).
fn find_inline_mod(text: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(k) = text[from..].find("mod ") {
        let start = from + k;
        from = start + 4;
        if start > 0 && text[..start].chars().last().is_some_and(is_ident) {
            continue;
        }
        let after = &text[start + 4..];
        let name: String = after.chars().take_while(|&c| is_ident(c)).collect();
        if name.is_empty() {
            continue;
        }
        let tail = after[name.len()..].trim_start();
        if tail.starts_with('{') {
            let brace = start + 4 + name.len() + (after[name.len()..].len() - tail.len());
            return Some((start, brace, name));
        }
    }
    None
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}::{name}")
    }
}

/// Every module of the crate rooted at `root_file`, following `mod` declarations.
fn crate_modules(root_file: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), root_file.to_path_buf())];
    while let Some((path, file)) = todo.pop() {
        let Ok(src) = std::fs::read_to_string(&file) else {
            continue;
        };
        let text = strip(&src);
        let own = split_inline(&path, &file, &text, &mut out);
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let dir = if matches!(name, "lib" | "main" | "mod") {
            file.parent().expect("a parent").to_path_buf()
        } else {
            file.with_extension("")
        };
        let children: BTreeSet<String> = declared_files(&own).into_iter().collect();
        for child in &children {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(child).join("mod.rs");
            let f = if flat.exists() { flat } else { nested };
            todo.push((join(&path, child), f));
        }
        let mut children = children;
        children.extend(out.iter().filter_map(|m| {
            let parent = m.path.rsplit_once("::").map_or("", |(p, _)| p);
            (parent == path && m.file == file).then(|| {
                m.path
                    .rsplit_once("::")
                    .map_or(m.path.clone(), |(_, n)| n.to_string())
            })
        }));
        out.push(Module {
            path,
            file,
            text: own,
            children,
        });
    }
    out
}

/// Expands the `use` trees of a text into full paths (`a::{b, c::d}` gives `a::b`, `a::c::d`).
fn use_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = text[from..].find("use ") {
        let start = from + k;
        from = start + 4;
        if start > 0 && text[..start].chars().last().is_some_and(is_ident) {
            continue;
        }
        let Some(end) = text[start..].find(';') else {
            break;
        };
        let tree: String = text[start + 4..start + end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        expand("", &tree, &mut out);
        from = start + end;
    }
    out
}

fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = if head.is_empty() {
            prefix.to_string()
        } else {
            join(prefix, head)
        };
        let mut depth = 0;
        let mut part = String::new();
        for c in inner.chars() {
            match c {
                '{' => {
                    depth += 1;
                    part.push(c);
                }
                '}' => {
                    depth -= 1;
                    part.push(c);
                }
                ',' if depth == 0 => {
                    expand(&base, &std::mem::take(&mut part), out);
                }
                _ => part.push(c),
            }
        }
        if !part.is_empty() {
            expand(&base, &part, out);
        }
    } else if !tree.is_empty() {
        let tree = tree.split(" as ").next().unwrap_or(tree);
        out.push(join(prefix, tree));
    }
}

/// Every path in a text that starts with `crate::`, `super::`, `self::` or a child module's name.
fn inline_paths(text: &str, children: &BTreeSet<String>) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                    j += 2;
                    if !chars.get(j).is_some_and(|&c| is_ident(c)) {
                        break;
                    }
                } else {
                    break;
                }
            }
            if segs.len() > 1
                && (matches!(segs[0].as_str(), "crate" | "super" | "self")
                    || children.contains(&segs[0]))
            {
                out.push(segs.join("::"));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The module a path from module `from` refers to: its longest prefix that is a module.
fn resolve(
    from: &str,
    path: &str,
    modules: &BTreeSet<String>,
    children: &BTreeSet<String>,
) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = Vec::new();
    match segs.first().copied() {
        Some("crate") => {
            segs.remove(0);
        }
        Some("self") => {
            segs.remove(0);
            base = from
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        Some("super") => {
            base = from
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                base.pop();
            }
        }
        Some(first) if children.contains(first) => {
            base = from
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        _ => return None,
    }
    let mut best = base.join("::");
    let mut cur = base;
    for s in segs {
        cur.push(s.to_string());
        let p = cur.join("::");
        if modules.contains(&p) {
            best = p;
        } else {
            break;
        }
    }
    Some(best)
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
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
        if let Some(ws) = t.edges.get(v) {
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
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The import graph of one crate: module -> modules it refers to (root excluded).
fn import_graph(
    root_file: &Path,
) -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, PathBuf>,
) {
    let modules = crate_modules(root_file);
    let names: BTreeSet<String> = modules.iter().map(|m| m.path.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = BTreeMap::new();
    for m in &modules {
        files.insert(m.path.clone(), m.file.clone());
        if m.path.is_empty() {
            continue;
        }
        let mut paths = use_paths(&m.text);
        paths.extend(inline_paths(&m.text, &m.children));
        for p in paths {
            let Some(to) = resolve(&m.path, &p, &names, &m.children) else {
                continue;
            };
            if !to.is_empty() && to != m.path {
                edges.entry(m.path.clone()).or_default().insert(to);
            }
        }
    }
    (edges, files)
}

// No two modules of a crate import each other, directly or around a loop.
#[test]
fn no_import_circles() {
    let mut found = Vec::new();
    for r in ROOTS {
        let (edges, files) = import_graph(&root().join(r));
        for comp in cycles(&edges) {
            let named: Vec<String> = comp.iter().map(|m| dynsim_tests::rel(&files[m])).collect();
            found.push(format!("{r}: {}", named.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

// The checker sees a circle when there is one: a parent that uses its
// child's type while the child uses the parent's, and one around three
// modules through `crate::` paths and a `use` tree.
#[test]
fn the_circle_check_sees_circles() {
    let dir = std::env::temp_dir().join(format!("dynsim-imports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("node")).expect("temp dir");
    let write = |p: &str, s: &str| std::fs::write(dir.join(p), s).expect("write");
    write(
        "lib.rs",
        "mod a;\nmod b;\nmod c;\nmod node;\npub use a::A;\n",
    );
    write("a.rs", "use crate::{b::B, x};\npub struct A;\n");
    write(
        "b.rs",
        "// use crate::a; in a comment is no import\npub struct B(crate::c::C);\n",
    );
    write(
        "c.rs",
        "use crate::a::A;\nconst S: &str = \"crate::b::B\";\npub struct C;\n",
    );
    write(
        "node/mod.rs",
        "mod store;\nuse store::Store;\npub struct Node(Store);\n",
    );
    write(
        "node/store.rs",
        "use super::Node;\npub struct Store;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    let (edges, _) = import_graph(&dir.join("lib.rs"));
    let mut found = cycles(&edges);
    found.sort();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        vec![
            vec!["a".to_string(), "b".to_string(), "c".to_string()],
            vec!["node".to_string(), "node::store".to_string()],
        ],
        "{edges:?}"
    );
}
