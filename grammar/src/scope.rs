//! The scope grammar of RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`,
//! visible ASCII without space, `"` or `\`. The macros check declared scopes with it, the
//! runtime the scopes a token grants and a development client asks for.

/// Whether `byte` may appear in a scope token.
pub const fn is_scope_byte(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Whether `scope` is one scope token: not empty, and only bytes [`is_scope_byte`] allows.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(is_scope_byte)
}

/// The first character of `scope` that may not appear in a scope token, if any.
pub fn first_invalid_char(scope: &str) -> Option<char> {
    scope
        .chars()
        .find(|c| !u8::try_from(*c).is_ok_and(is_scope_byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6749_grammar() {
        assert!(is_scope_token("orders:read"));
        assert!(is_scope_token("!#[]~"));
        for bad in ["", "a b", "a\"b", "a\\b", "caf\u{e9}", "a\tb", "a\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
        assert_eq!(first_invalid_char("orders write"), Some(' '));
        assert_eq!(first_invalid_char("caf\u{e9}"), Some('\u{e9}'));
        assert_eq!(first_invalid_char("orders:read"), None);
        for byte in 0..=u8::MAX {
            let rfc =
                byte == 0x21 || (0x23..=0x5B).contains(&byte) || (0x5D..=0x7E).contains(&byte);
            assert_eq!(is_scope_byte(byte), rfc, "{byte:#x}");
        }
    }
}
