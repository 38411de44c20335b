//! docs/design.md names the function (or type, or constant) of every step
//! of a loop iteration and of a remote wake, and the file it lives in. This
//! test keeps the page true: each "`name` in `path`" it writes must name
//! an item that `path` defines.

use std::path::Path;

/// Every `(name, path)` pair the page writes as "`name` in `path`".
fn named_items(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("` in `") {
        let (before, after) = rest.split_at(at);
        let name = before.rsplit('`').next().unwrap_or_default();
        let after = &after["` in `".len()..];
        let path = after.split('`').next().unwrap_or_default();
        if path.ends_with(".rs") {
            out.push((name.to_owned(), path.to_owned()));
        }
        rest = &after[path.len()..];
    }
    out
}

/// Whether `source` defines `name` as a function, type, constant or macro.
fn defines(source: &str, name: &str) -> bool {
    ["fn ", "struct ", "enum ", "trait ", "const ", "type "]
        .iter()
        .any(|kw| {
            source.match_indices(&format!("{kw}{name}")).any(|(i, m)| {
                let next = source[i + m.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}

#[test]
fn every_function_the_design_page_names_exists_where_it_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/design.md")).expect("docs/design.md");
    // A name and its file may sit on two lines of the page.
    let page = page.split_whitespace().collect::<Vec<_>>().join(" ");
    let items = named_items(&page);
    assert!(
        items.len() >= 30,
        "only {} named items found: did the page's format change?",
        items.len()
    );
    let mut missing = Vec::new();
    for (name, path) in &items {
        let source = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|e| panic!("docs/design.md names {path}, which cannot be read: {e}"));
        // `Type::method`: both must be defined in that file.
        if !name.split("::").all(|part| defines(&source, part)) {
            missing.push(format!("`{name}` in `{path}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/design.md names items that are not where it says: {missing:#?}"
    );
}

#[test]
fn the_check_itself_catches_a_name_that_is_gone() {
    let items = named_items("calls `no_such_function` in `executor/src/queue.rs`, then");
    assert_eq!(
        items,
        [(
            "no_such_function".to_owned(),
            "executor/src/queue.rs".to_owned()
        )]
    );
    let source = "fn no_such_function_after_all() {}";
    assert!(!defines(source, "no_such_function"));
    assert!(defines("pub(crate) fn pop(&self)", "pop"));
    assert!(defines("pub struct Parker {", "Parker"));
}
