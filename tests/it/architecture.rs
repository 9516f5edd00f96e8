//! The shape of `src/` that the README promises, checked on the source text: no import cycle
//! between modules, no function longer than 80 lines, and no socket code of our own (the
//! BMS goes through ureq and the GX through tokio-modbus). Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONGEST_FUNCTION: usize = 80;

/// (module path like `ev::rules`, the file's text up to its test module)
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            (parts.join("::"), code)
        })
        .collect()
}

/// Every `crate::a::b` a module names, reduced to the longest module path that exists.
fn dependencies(modules: &BTreeSet<String>, code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut best = None;
        let mut prefix = String::new();
        for part in path.split("::").filter(|p| !p.is_empty()) {
            if !prefix.is_empty() {
                prefix += "::";
            }
            prefix += part;
            if modules.contains(&prefix) {
                best = Some(prefix.clone());
            }
        }
        // `use crate::ev::{rules, state}` names the modules inside the braces.
        if let Some(brace) = rest.strip_prefix(&path).and_then(|r| r.strip_prefix('{')) {
            let inner = brace.split('}').next().unwrap_or("");
            for name in inner
                .split(',')
                .map(|n| n.trim().split(' ').next().unwrap_or(""))
            {
                let candidate = format!("{}{name}", path);
                if modules.contains(&candidate) {
                    out.insert(candidate);
                }
            }
        }
        if let Some(b) = best {
            out.insert(b);
        }
    }
    out
}

#[test]
fn no_import_cycle_between_modules() {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let graph: BTreeMap<String, BTreeSet<String>> = sources
        .iter()
        .map(|(m, code)| {
            let mut deps = dependencies(&modules, code);
            deps.remove(m);
            // A parent module only declares its children.
            deps.retain(|d| !d.starts_with(&format!("{m}::")));
            (m.clone(), deps)
        })
        .collect();
    assert!(
        graph["commands::schedule"].contains("output"),
        "the parser sees imports: {graph:?}"
    );
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        let cycle = visit(m, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap().join(" → ")
        );
    }
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for (module, code) in sources() {
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || line.trim_end().ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - trimmed.len()];
            let close = format!("{indent}}}");
            let end = lines[i..]
                .iter()
                .position(|l| l.trim_end() == close)
                .unwrap_or(lines.len() - i);
            if end + 1 > LONGEST_FUNCTION {
                long.push(format!("{module}: {} ({} lines)", trimmed, end + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_socket_code_of_our_own() {
    for (module, code) in sources() {
        for needle in ["TcpStream", "TcpListener", "UdpSocket"] {
            assert!(
                !code.contains(needle),
                "{module} uses {needle}: the devices are reached through ureq and tokio-modbus"
            );
        }
    }
}
