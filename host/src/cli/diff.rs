//! A readable difference between two JSON documents, one line per
//! differing value, each with its JSON path.

use serde_json::Value;

/// Differences between `expected` and `actual`, at most `limit` lines.
pub fn json_diff(expected: &Value, actual: &Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out, limit);
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit {
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => walk(&p, ev, av, out, limit),
                    None => push(out, limit, format!("{p}: expected {}, missing", short(ev))),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    push(
                        out,
                        limit,
                        format!("{path}.{k}: not expected, got {}", short(av)),
                    );
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                walk(&format!("{path}[{i}]"), ev, av, out, limit);
            }
            if e.len() != a.len() {
                push(
                    out,
                    limit,
                    format!("{path}: expected {} elements, got {}", e.len(), a.len()),
                );
                for (i, ev) in e.iter().enumerate().skip(a.len()) {
                    push(
                        out,
                        limit,
                        format!("{path}[{i}]: expected {}, missing", short(ev)),
                    );
                }
                for (i, av) in a.iter().enumerate().skip(e.len()) {
                    push(
                        out,
                        limit,
                        format!("{path}[{i}]: not expected, got {}", short(av)),
                    );
                }
            }
        }
        _ if numbers_equal(expected, actual) || expected == actual => {}
        _ => push(
            out,
            limit,
            format!(
                "{path}: expected {}, got {}",
                short(expected),
                short(actual)
            ),
        ),
    }
}

/// `100` and `100.0` are the same number for fixture purposes.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_string() == y.to_string(),
        _ => false,
    }
}

fn push(out: &mut Vec<String>, limit: usize, line: String) {
    if out.len() < limit {
        out.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_difference_by_path() {
        let e = json!([{"op":"upsert","item":{"price_minor":19900,"name":"A"}}, {"op":"delete"}]);
        let a = json!([{"op":"upsert","item":{"price_minor":1990,"name":"A","sku":"X"}}]);
        let d = json_diff(&e, &a, 10);
        assert_eq!(
            d,
            vec![
                "$[0].item.price_minor: expected 19900, got 1990".to_string(),
                "$[0].item.sku: not expected, got \"X\"".to_string(),
                "$: expected 2 elements, got 1".to_string(),
                "$[1]: expected {\"op\":\"delete\"}, missing".to_string(),
            ]
        );
        assert!(json_diff(&e, &e, 10).is_empty());
        assert_eq!(json_diff(&e, &a, 1).len(), 1);
    }
}
