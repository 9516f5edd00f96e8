//! The shape of `src/` that the README promises, checked on the source text: no import cycle
//! between modules or between folders, no pure module importing one that does I/O, no
//! function longer than 80 lines, no file over 600 lines of code, and no socket code of our
//! own (the BMS goes through ureq and the GX through tokio-modbus). Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONGEST_FUNCTION: usize = 80;
const LONGEST_FILE: usize = 600;

/// The pure core: plain functions from typed inputs to a decision, and the device codecs.
/// Nothing here reads a clock, a file, the network or the terminal.
const PURE: &[&str] = &[
    "clock",
    "config",
    "cron",
    "decide",
    "drain",
    "ev::codec",
    "ev::rules",
    "exit_codes",
    "follow",
    "handback",
    "plan",
    "redflow",
    "registers",
    "scenarios",
    "serial",
    "simulate",
    "sun",
    "victron",
    "writes",
];

/// The shell: devices, files, the clock, the command line and what is printed.
const SHELL: &[&str] = &[
    "bms",
    "cli",
    "commands",
    "config_file",
    "ev",
    "ev::charger",
    "ev::kick",
    "ev::parts",
    "ev::state",
    "gx",
    "handback_file",
    "json_file",
    "lib",
    "lock",
    "main",
    "modbus",
    "net",
    "output",
];

/// Which list a module belongs to: its own entry, or its nearest listed parent's.
fn side(module: &str) -> Option<&'static str> {
    let mut path = module.to_string();
    loop {
        if PURE.contains(&path.as_str()) {
            return Some("pure");
        }
        if SHELL.contains(&path.as_str()) {
            return Some("shell");
        }
        match path.rfind("::") {
            Some(i) => path.truncate(i),
            None => return None,
        }
    }
}

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

/// Module → the modules it imports (a parent's declarations of its children left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    sources
        .iter()
        .map(|(m, code)| {
            let mut deps = dependencies(&modules, code);
            deps.remove(m);
            // A parent module only declares its children.
            deps.retain(|d| !d.starts_with(&format!("{m}::")));
            (m.clone(), deps)
        })
        .collect()
}

/// The first cycle in `graph`, if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
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
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = graph();
    assert!(
        graph["commands::schedule"].contains("output"),
        "the parser sees imports: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn no_import_cycle_between_folders() {
    // Each module stands for its top-level folder (or file): `ev::kick` is `ev`.
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in graph() {
        let entry = folders.entry(top(&m)).or_default();
        entry.extend(deps.iter().map(|d| top(d)).filter(|d| *d != top(&m)));
    }
    assert!(folders["commands"].contains("ev"), "{folders:?}");
    if let Some(cycle) = find_cycle(&folders) {
        panic!("import cycle between folders: {}", cycle.join(" → "));
    }
}

#[test]
fn every_module_is_pure_or_shell_and_no_pure_module_imports_the_shell() {
    let mut problems = Vec::new();
    for (m, deps) in graph() {
        match side(&m) {
            None => problems.push(format!("{m} is in neither PURE nor SHELL: add it to one")),
            Some("pure") => {
                for d in deps.iter().filter(|d| side(d) == Some("shell")) {
                    problems.push(format!("pure {m} imports {d}, which does I/O"));
                }
            }
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_is_longer_than_600_lines_of_code() {
    let long: Vec<String> = sources()
        .into_iter()
        .map(|(m, code)| (m, code.lines().count()))
        .filter(|(_, n)| *n > LONGEST_FILE)
        .map(|(m, n)| format!("{m}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {LONGEST_FILE} lines of code (before the test module):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_pure_core_reads_no_clock_file_or_terminal() {
    let io = [
        "std::fs",
        "std::net",
        "std::io::std",
        "SystemTime::now",
        "Utc::now",
        "Local::now",
        "println!",
        "eprintln!",
        "std::env::var",
    ];
    for (m, code) in sources() {
        if side(&m) != Some("pure") {
            continue;
        }
        for needle in io {
            assert!(!code.contains(needle), "pure {m} uses {needle}");
        }
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
