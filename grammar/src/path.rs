//! The route path grammar (axum 0.8): `/literal/{param}/.../{*rest}`.

/// A checked route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// The parameter names, in order.
    pub params: Vec<String>,
}

/// axum names its own parameters (the fallback's, a nested router's tail) with this prefix,
/// and drops every parameter whose name starts with it before extractors see them.
const AXUM_RESERVED: &str = "__private__axum";

/// The most parameters one route may have: axum's router (matchit 0.8) renames them `a` to
/// `z` internally and panics, when the router is built, on the 26th.
pub const MAX_PARAMS: usize = 25;

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `path`, or says what is wrong with it.
pub fn parse(path: &str) -> Result<RoutePath, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "the path \"{path}\" must start with `/`, like \"/{path}\""
        ));
    };
    if let Some(bad) = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err(format!(
            "the path \"{path}\" contains {bad:?}; a route path holds no whitespace, query or fragment"
        ));
    }
    let mut params = Vec::new();
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            if index == last {
                continue;
            }
            return Err(format!("the path \"{path}\" has an empty segment (`//`)"));
        }
        if let Some(name) = segment.strip_prefix(':') {
            return Err(format!(
                "the path segment `{segment}` uses the old syntax; write the parameter as `{{{name}}}`"
            ));
        }
        if !segment.contains(['{', '}']) {
            if let Some(name) = segment.strip_prefix('*') {
                return Err(format!(
                    "the path segment `{segment}` uses the old syntax; write a catch-all as `{{*{name}}}`"
                ));
            }
            continue;
        }
        let inner = segment
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .ok_or_else(|| {
                format!(
                    "the path segment `{segment}` is malformed: a parameter takes a whole segment, \
                 written `{{name}}` (or `{{*name}}` for the rest of the path)"
                )
            })?;
        let (name, catch_all) = match inner.strip_prefix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if !is_name(name) {
            return Err(format!(
                "the path parameter `{segment}` needs a name made of letters, digits and `_`, \
                 like `{{id}}`"
            ));
        }
        if name.starts_with(AXUM_RESERVED) {
            return Err(format!(
                "the path parameter `{segment}` has a name axum reserves for itself \
                 (`{AXUM_RESERVED}...`): its value would never reach the handler; choose another name"
            ));
        }
        if catch_all && index != last {
            return Err(format!(
                "the catch-all parameter `{segment}` must be the last segment"
            ));
        }
        if params.iter().any(|existing| existing == name) {
            return Err(format!(
                "the path parameter `{name}` appears twice in \"{path}\""
            ));
        }
        if params.len() == MAX_PARAMS {
            return Err(format!(
                "the path \"{path}\" has more than {MAX_PARAMS} parameters, more than axum's \
                 router can hold; take the rest as a query or a body"
            ));
        }
        params.push(name.to_owned());
    }
    Ok(RoutePath { params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_paths() {
        assert_eq!(parse("/").unwrap().params, Vec::<String>::new());
        assert_eq!(parse("/orders/").unwrap().params, Vec::<String>::new());
        assert_eq!(parse("/orders/{id}").unwrap().params, vec!["id"]);
        assert_eq!(
            parse("/a/{x}/b/{y_2}/{*rest}").unwrap().params,
            vec!["x", "y_2", "rest"]
        );
        assert_eq!(
            parse("/v1.0/caf%C3%A9-ok~").unwrap().params,
            Vec::<String>::new()
        );
    }

    /// Found by the `route_path` fuzz target: axum panicked when the router was built.
    #[test]
    fn at_most_25_parameters() {
        let path =
            |count: usize| -> String { (0..count).map(|index| format!("/{{p{index}}}")).collect() };
        assert_eq!(parse(&path(MAX_PARAMS)).unwrap().params.len(), MAX_PARAMS);
        let error = parse(&path(MAX_PARAMS + 1)).unwrap_err();
        assert!(error.contains("more than 25 parameters"), "{error}");
    }

    #[test]
    fn refuses_malformed_paths() {
        let cases = [
            ("orders", "must start with `/`"),
            ("", "must start with `/`"),
            ("/orders//x", "empty segment"),
            ("/orders/:id", "write the parameter as `{id}`"),
            ("/files/*rest", "write a catch-all as `{*rest}`"),
            ("/orders/{id", "is malformed"),
            ("/orders/id}", "is malformed"),
            ("/orders/x{id}", "is malformed"),
            ("/orders/{}", "needs a name"),
            ("/orders/{1d}", "needs a name"),
            ("/orders/{a-b}", "needs a name"),
            ("/{*rest}/x", "must be the last segment"),
            ("/{id}/{id}", "appears twice"),
            ("/orders?x=1", "no whitespace, query or fragment"),
            // Found by the `route_path` fuzz target: axum drops these parameters, so the
            // handler's `Path` never sees them.
            ("/or/{__private__axum_fallbacki888dv1}", "axum reserves"),
            ("/{__private__axum_nest_tail_param}", "axum reserves"),
            ("/files/{*__private__axum_x}", "axum reserves"),
            ("/or ders", "no whitespace"),
        ];
        for (path, expected) in cases {
            let error = parse(path).unwrap_err();
            assert!(error.contains(expected), "{path:?}: {error}");
        }
    }
}
