//! Where a byte offset into the config text is, as a person counts: line and column from 1.

/// A place in a config file. Both numbers start at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    /// Counted in characters, not bytes, so that it matches what an editor shows on a line
    /// holding non-ASCII names.
    pub column: usize,
}

impl Position {
    /// The place of `offset` in `text`. An offset past the end is taken as the end, and one
    /// inside a multi-byte character as that character, so any span the parser reports works.
    pub(crate) fn of_offset(text: &str, offset: usize) -> Position {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text.as_bytes()[..end];
        let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |at| at + 1);
        let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
        let column =
            1 + before[line_start..].iter().filter(|&&byte| !is_continuation(byte)).count();
        Position { line, column }
    }
}

/// UTF-8 continuation bytes (`10xxxxxx`) carry no character of their own.
fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(Position::of_offset(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of_offset(text, 4), Position { line: 1, column: 5 });
        assert_eq!(Position::of_offset(text, 6), Position { line: 2, column: 1 });
        assert_eq!(Position::of_offset(text, 11), Position { line: 2, column: 6 });
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "name = \"é\" x";
        // 'é' is two bytes; the 'x' after it is the 12th character.
        assert_eq!(Position::of_offset(text, 12), Position { line: 1, column: 12 });
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_do_not_panic() {
        let text = "é\n";
        assert_eq!(Position::of_offset(text, 1), Position { line: 1, column: 1 });
        assert_eq!(Position::of_offset(text, 99), Position { line: 2, column: 1 });
    }
}
