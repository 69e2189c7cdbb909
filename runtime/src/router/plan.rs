//! Where every endpoint of a router answers, checked before anything is served: paths
//! under their prefixes, no two routes alike, no conflicting paths, the app's scopes
//! combined.

use crate::authz::{Requirements, ScopeRegistry};
use crate::endpoint::{EndpointSpec, MountedEndpoint};
use crate::openapi::{OpenApiError, OpenApiInfo};
use crate::security::Security;
use crate::static_value::str_for_life;

use super::{RouterError, scopes};

/// The module Portcullis' own endpoint records name: the OpenAPI document's, a
/// development issuer's. They are served and listed, but not in the API's document.
pub(crate) const BUILTIN_MODULE: &str = "portcullis";

/// One endpoint, placed.
pub(super) struct Planned {
    pub(super) mounted: MountedEndpoint,
    /// Its requirements over the app's combined scope registry.
    pub(super) requirements: Option<Requirements>,
    /// One of Portcullis' own routes (the OpenAPI document, a development issuer): served
    /// and listed, but not part of the API's document.
    pub(super) builtin: bool,
}

/// Every endpoint of a router, placed and checked.
pub(super) struct Plan {
    /// The endpoints in mounting order, then the OpenAPI document's.
    pub(super) endpoints: Vec<Planned>,
    /// The OpenAPI document's endpoint, when one is served (last of `endpoints`).
    pub(super) openapi: Option<&'static EndpointSpec>,
    /// The scopes of every `scopes!` the endpoints use, combined.
    pub(super) registry: Option<&'static ScopeRegistry>,
}

impl Plan {
    /// Places `endpoints` (record, nesting prefix, whether the path is absolute) under the
    /// router's `prefix`, then the OpenAPI document's endpoint, and checks them.
    pub(super) fn new<'a>(
        security: &Security,
        prefix: &str,
        endpoints: impl Iterator<Item = (&'static EndpointSpec, &'a str, bool)>,
        openapi: Option<&'static EndpointSpec>,
    ) -> Result<Plan, RouterError> {
        check_prefix(prefix)?;
        let mut placed = Vec::new();
        for (spec, nesting, absolute) in endpoints {
            check_prefix(nesting)?;
            let full_prefix = if absolute {
                String::new()
            } else {
                format!("{prefix}{nesting}")
            };
            placed.push((spec, full_prefix));
        }
        if let Some(spec) = openapi {
            placed.push((spec, prefix.to_owned()));
        }
        let registry = scopes::combine(
            placed
                .iter()
                .filter_map(|(spec, _)| spec.requirements().map(|r| (spec.handler, r))),
        )?;
        let mut planned: Vec<Planned> = Vec::with_capacity(placed.len());
        for (spec, full_prefix) in placed {
            let path = if full_prefix.is_empty() {
                spec.path
            } else {
                str_for_life(&join(&full_prefix, spec.path))
            };
            planned.push(Planned {
                mounted: MountedEndpoint {
                    spec,
                    path,
                    prefix: str_for_life(&full_prefix),
                },
                requirements: spec
                    .requirements()
                    .map(|requirements| scopes::over(requirements, registry)),
                builtin: spec.module == BUILTIN_MODULE,
            });
        }
        check_routes(&planned)?;
        if !security.has_issuers()
            && let Some(secured) = planned
                .iter()
                .find(|planned| planned.requirements.is_some())
        {
            return Err(RouterError::NoIssuer(secured.mounted.spec.handler));
        }
        Ok(Plan {
            endpoints: planned,
            openapi,
            registry,
        })
    }

    /// The endpoints the API's OpenAPI document describes: all but Portcullis' own.
    pub(super) fn document_endpoints(&self) -> Vec<MountedEndpoint> {
        self.endpoints
            .iter()
            .filter(|planned| !planned.builtin)
            .map(|planned| planned.mounted)
            .collect()
    }

    /// The OpenAPI document of the endpoints.
    pub(super) fn document(
        &self,
        security: &Security,
        info: &OpenApiInfo,
    ) -> Result<utoipa::openapi::OpenApi, OpenApiError> {
        crate::openapi::build(&self.document_endpoints(), security, self.registry, info)
    }
}

/// `path` under `prefix`; the root path is the prefix itself.
fn join(prefix: &str, path: &str) -> String {
    if path == "/" {
        prefix.to_owned()
    } else {
        format!("{prefix}{path}")
    }
}

/// A prefix is empty, or `/` followed by plain segments, without a trailing `/`.
fn check_prefix(prefix: &str) -> Result<(), RouterError> {
    if prefix.is_empty() {
        return Ok(());
    }
    let refuse = |reason| {
        Err(RouterError::InvalidPrefix {
            prefix: prefix.to_owned(),
            reason,
        })
    };
    if !prefix.starts_with('/') {
        return refuse("a prefix starts with `/`, like `/api/v1`");
    }
    if prefix.ends_with('/') {
        return refuse("a prefix does not end with `/`: write `/api/v1`, not `/api/v1/`");
    }
    if prefix.contains("//") {
        return refuse("a prefix has no empty segment (`//`)");
    }
    if prefix.contains(['{', '}', '*', '?', '#', ':']) {
        return refuse(
            "a prefix is plain segments: no `{parameters}`, wildcards, queries or `:`; \
             declare parameters in the endpoints' own paths",
        );
    }
    if prefix
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_control())
    {
        return refuse("a prefix has no spaces or control characters");
    }
    Ok(())
}

/// No two routes alike, and no two paths a router could not tell apart.
fn check_routes(planned: &[Planned]) -> Result<(), RouterError> {
    let mut paths: matchit::Router<usize> = matchit::Router::new();
    let mut inserted: Vec<&'static str> = Vec::new();
    for (index, entry) in planned.iter().enumerate() {
        let spec = entry.mounted.spec;
        let path = entry.mounted.path;
        if let Some(earlier) = planned[..index]
            .iter()
            .find(|other| other.mounted.path == path && other.mounted.spec.method == spec.method)
        {
            return Err(RouterError::DuplicateRoute {
                method: spec.method.as_str(),
                path,
                first: earlier.mounted.spec.handler,
                second: spec.handler,
            });
        }
        if inserted.contains(&path) {
            continue;
        }
        if let Err(error) = paths.insert(path, index) {
            let with = match &error {
                matchit::InsertError::Conflict { with } => Some(with.as_str()),
                _ => None,
            };
            let first = with
                .and_then(|with| planned[..index].iter().find(|p| p.mounted.path == with))
                .or_else(|| planned[..index].last());
            return Err(match first {
                Some(first) => RouterError::ConflictingRoutes {
                    first: first.mounted.spec.handler,
                    first_path: first.mounted.path,
                    second: spec.handler,
                    second_path: path,
                },
                None => RouterError::InvalidPrefix {
                    prefix: path.to_owned(),
                    reason: "the path cannot be routed",
                },
            });
        }
        inserted.push(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_plain_segments() {
        for good in ["", "/api", "/api/v1", "/a-b_c.d~e"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "api", "/api/", "/", "//api", "/api/{v}", "/api/*", "/a b", "/a:b",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_root_path_is_the_prefix() {
        assert_eq!(join("/api", "/"), "/api");
        assert_eq!(join("/api", "/orders"), "/api/orders");
    }
}
