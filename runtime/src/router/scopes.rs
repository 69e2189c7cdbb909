//! The scopes of an app: every `scopes!` declaration its endpoints use, combined into one
//! registry, and each endpoint's requirements expressed over it.

use crate::authz::{MAX_SCOPES, Requirements, ScopeDecl, ScopeRegistry};

use super::error::RouterError;

/// Combines the registries of `requirements` into one: the only one when they all agree,
/// else their union in the order of first declaration (made once, at start-up, and kept
/// for the life of the process like the ones `scopes!` generates).
pub(super) fn combine<'r>(
    requirements: impl IntoIterator<Item = (&'static str, &'r Requirements)>,
) -> Result<Option<&'static ScopeRegistry>, RouterError> {
    let mut distinct: Vec<&'static ScopeRegistry> = Vec::new();
    let mut declared: Vec<(ScopeDecl, &'static str)> = Vec::new();
    for (handler, requirements) in requirements {
        let Some(registry) = requirements.registry else {
            continue;
        };
        if distinct
            .iter()
            .any(|known| same_declarations(known, registry))
        {
            continue;
        }
        distinct.push(registry);
        for decl in registry.scopes() {
            match declared.iter().find(|(known, _)| known.name == decl.name) {
                Some((known, first)) if known.description != decl.description => {
                    return Err(RouterError::ConflictingScopeDescriptions {
                        scope: decl.name,
                        first: known.description,
                        first_handler: first,
                        second: decl.description,
                        second_handler: handler,
                    });
                }
                Some(_) => {}
                None => declared.push((*decl, handler)),
            }
        }
    }
    match distinct.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(*only)),
        _ if declared.len() > MAX_SCOPES => Err(RouterError::TooManyScopes(declared.len())),
        _ => {
            let scopes: Vec<ScopeDecl> = declared.into_iter().map(|(decl, _)| decl).collect();
            let mut by_name: Vec<(&'static str, u16)> = scopes
                .iter()
                .enumerate()
                .map(|(index, decl)| (decl.name, index as u16))
                .collect();
            by_name.sort_unstable();
            let registry = ScopeRegistry::new(
                Box::leak(scopes.into_boxed_slice()),
                Box::leak(by_name.into_boxed_slice()),
            );
            Ok(Some(Box::leak(Box::new(registry))))
        }
    }
}

/// Whether two registries declare the same scopes, in the same order, alike described:
/// then their indices agree and either serves.
fn same_declarations(a: &ScopeRegistry, b: &ScopeRegistry) -> bool {
    std::ptr::eq(a, b) || a.scopes() == b.scopes()
}

/// `requirements` expressed over `registry`, the app's combined registry.
pub(super) fn over(
    requirements: &Requirements,
    registry: Option<&'static ScopeRegistry>,
) -> Requirements {
    match (requirements.registry, registry) {
        (Some(own), Some(combined)) if !std::ptr::eq(own, combined) => Requirements {
            registry: Some(combined),
            all_scopes: combined.set_of(requirements.all_scope_names.iter().copied()),
            any_scopes: combined.set_of(requirements.any_scope_names.iter().copied()),
            ..*requirements
        },
        _ => *requirements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::ScopeSet;

    static ORDERS: [ScopeDecl; 2] = [
        ScopeDecl {
            name: "orders:read",
            description: "Read orders",
        },
        ScopeDecl {
            name: "shared",
            description: "Shared",
        },
    ];
    static ORDERS_REGISTRY: ScopeRegistry =
        ScopeRegistry::new(&ORDERS, &[("orders:read", 0), ("shared", 1)]);
    static ORDERS_AGAIN: ScopeRegistry =
        ScopeRegistry::new(&ORDERS, &[("orders:read", 0), ("shared", 1)]);
    static BILLING: [ScopeDecl; 2] = [
        ScopeDecl {
            name: "shared",
            description: "Shared",
        },
        ScopeDecl {
            name: "billing:pay",
            description: "Pay",
        },
    ];
    static BILLING_REGISTRY: ScopeRegistry =
        ScopeRegistry::new(&BILLING, &[("billing:pay", 1), ("shared", 0)]);
    static CLASH: [ScopeDecl; 1] = [ScopeDecl {
        name: "shared",
        description: "Something else",
    }];
    static CLASH_REGISTRY: ScopeRegistry = ScopeRegistry::new(&CLASH, &[("shared", 0)]);

    fn requiring(registry: &'static ScopeRegistry, names: &'static [&'static str]) -> Requirements {
        Requirements {
            registry: Some(registry),
            all_scopes: registry.set_of(names.iter().copied()),
            all_scope_names: names,
            any_scopes: ScopeSet::EMPTY,
            any_scope_names: &[],
            roles: &[],
            policy: None,
            dpop: false,
        }
    }

    #[test]
    fn one_declaration_is_kept_as_it_is() {
        let a = requiring(&ORDERS_REGISTRY, &["orders:read"]);
        let b = requiring(&ORDERS_AGAIN, &["shared"]);
        let combined = combine([("a", &a), ("b", &b)]).unwrap().unwrap();
        assert!(std::ptr::eq(combined, &ORDERS_REGISTRY));
        let b = over(&b, Some(combined));
        assert!(std::ptr::eq(b.registry.unwrap(), combined));
        assert_eq!(b.all_scopes, ScopeSet::from_indices(&[1]));
    }

    #[test]
    fn two_declarations_combine_and_requirements_follow() {
        let a = requiring(&ORDERS_REGISTRY, &["orders:read"]);
        let b = requiring(&BILLING_REGISTRY, &["billing:pay", "shared"]);
        let combined = combine([("a", &a), ("b", &b)]).unwrap().unwrap();
        let names: Vec<&str> = combined.scopes().iter().map(|decl| decl.name).collect();
        assert_eq!(names, ["orders:read", "shared", "billing:pay"]);
        let b = over(&b, Some(combined));
        assert_eq!(b.all_scopes, ScopeSet::from_indices(&[1, 2]));
        assert_eq!(combined.index_of("billing:pay"), Some(2));
        let a = over(&a, Some(combined));
        assert_eq!(a.all_scopes, ScopeSet::from_indices(&[0]));
    }

    #[test]
    fn one_scope_with_two_descriptions_is_refused() {
        let a = requiring(&ORDERS_REGISTRY, &["shared"]);
        let b = requiring(&CLASH_REGISTRY, &["shared"]);
        let error = combine([("list_orders", &a), ("pay", &b)]).unwrap_err();
        assert_eq!(
            error,
            RouterError::ConflictingScopeDescriptions {
                scope: "shared",
                first: "Shared",
                first_handler: "list_orders",
                second: "Something else",
                second_handler: "pay",
            }
        );
    }
}
