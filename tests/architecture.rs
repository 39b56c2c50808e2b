//! The module graph: every `crate::…` path in `src/` is an arrow from the
//! module that writes it to the top-level module it names. The arrows must
//! point down the layers below (or stay within one layer) and form no
//! circle, so each layer can be read, tested and changed without the ones
//! above it.
//!
//! The arrows that break this today are listed in [`KNOWN_UPWARD`] and
//! [`KNOWN_CIRCLES`], each to be removed as its fix lands: a new one fails
//! this test, and so does an entry that no longer exists, so the lists only
//! shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// From the bottom up; a module may use modules of its own layer or below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "backoff",
            "describe",
            "duration",
            "error_chain",
            "hash",
            "identity",
            "logging",
            "memory",
            "metrics",
            "payload",
            "shutdown",
            "supervisor",
            "text",
            "time",
            "zone",
        ],
    ),
    ("schedule engine", &["cron", "schedule"]),
    ("config", &["config"]),
    ("store", &["store"]),
    ("daemons", &["clock", "worker", "deploy", "formats", "run", "notify", "tick_log"]),
    ("control", &["control", "health", "web"]),
    ("cli", &["cli"]),
];

/// Arrows up the layers that exist today, each to be removed.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

/// Circles that exist today, each as its sorted members.
const KNOWN_CIRCLES: &[&[&str]] = &[];

fn layer_of(module: &str) -> usize {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module)).unwrap_or_else(|| {
        panic!("module {module:?} is in no layer: add it to LAYERS in tests/architecture.rs")
    })
}

/// The top-level module a file under `src/` belongs to.
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix("src").ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(module, "lib" | "main" | "bin")).then(|| module.to_owned())
}

/// The code of a file without its comments (doc links name modules too,
/// but draw no arrow).
fn code(text: &str) -> String {
    text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every top-level module a piece of code names through `crate::`,
/// including each member of a `crate::{a, b::c}` group.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && c == ',' {
                    found.extend(first_ident(&item));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
            found.extend(first_ident(&item));
        } else {
            found.extend(first_ident(rest));
        }
    }
    found
}

fn first_ident(text: &str) -> Option<String> {
    let ident: String = text.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!ident.is_empty()).then_some(ident)
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// module -> modules it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        let uses: Vec<String> = named_modules(&code(&text)).into_iter().filter(|m| *m != module).collect();
        graph.entry(module).or_default().extend(uses);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut members = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                members.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if members.len() > 1 {
                members.sort();
                s.found.push(members);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found.sort();
    state.found
}

#[test]
fn the_parser_sees_single_grouped_and_nested_imports() {
    let text = "use crate::config::{Job, QueueName};\nuse crate::{store::{self, Store}, time,\n    zone};\n\
                // crate::cli in a comment\nlet x = crate::metrics::METRICS;";
    let found: Vec<String> = named_modules(&code(text)).into_iter().collect();
    assert_eq!(found, ["config", "metrics", "store", "time", "zone"]);
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned(), "c".to_owned()])),
        ("c".to_owned(), BTreeSet::new()),
    ]);
    assert_eq!(circles(&graph), [["a", "b"]]);
}

#[test]
fn modules_import_only_their_own_layer_or_below() {
    let graph = graph();
    let mut upward = BTreeSet::new();
    for (from, uses) in &graph {
        for to in uses {
            if layer_of(to) > layer_of(from) {
                upward.insert((from.clone(), to.clone()));
            }
        }
    }
    let known: BTreeSet<(String, String)> =
        KNOWN_UPWARD.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    let new: Vec<_> = upward.difference(&known).collect();
    let gone: Vec<_> = known.difference(&upward).collect();
    assert!(new.is_empty(), "imports up the layers (a module may use its own layer or below): {new:?}");
    assert!(gone.is_empty(), "fixed: remove from KNOWN_UPWARD in tests/architecture.rs: {gone:?}");
}

#[test]
fn the_module_graph_has_no_new_circle() {
    let found = circles(&graph());
    let known: Vec<Vec<String>> =
        KNOWN_CIRCLES.iter().map(|c| c.iter().map(|m| (*m).to_owned()).collect()).collect();
    assert_eq!(found, known, "circles in the module graph (KNOWN_CIRCLES lists today's, to be removed)");
}
