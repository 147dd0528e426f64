//! Literal text inside Redis glob patterns.

/// Escapes the characters Redis' glob matcher treats specially (`* ? [ ] \`), so
/// caller data inside a SCAN pattern can only ever match itself.
pub fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len() + 4);
    for ch in literal.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_glob;

    #[test]
    fn escapes_every_glob_metacharacter() {
        assert_eq!(escape_glob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
        assert_eq!(escape_glob("plain-id:1"), "plain-id:1");
        assert_eq!(escape_glob(""), "");
    }
}
