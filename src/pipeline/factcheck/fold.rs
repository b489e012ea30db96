//! The draft as the fact-checker reads it: lower-case, accents folded, every run of ASCII
//! whitespace one space, with a map back to byte offsets in the original so each claim quotes
//! the draft's own text. One pass, one allocation for the text and a few for the map: this
//! runs on every draft and before every send.

use std::ops::Range;

pub(super) struct Folded {
    pub text: String,
    /// `(folded offset, original offset)` wherever the two stop advancing together (after a
    /// folded character of another byte length, after a collapsed whitespace run). Between two
    /// marks one folded byte is one original byte. Sorted by both offsets.
    marks: Vec<(usize, usize)>,
    original_len: usize,
}

impl Folded {
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut marks = Vec::new();
        let mut in_space = false;
        for (at, c) in original.char_indices() {
            if c.is_ascii_whitespace() {
                if in_space {
                    // Swallowed: the original moves on, the folded text does not.
                    marks.push((text.len(), at + 1));
                } else {
                    text.push(' ');
                }
                in_space = true;
                continue;
            }
            in_space = false;
            if c.is_ascii() {
                text.push(c.to_ascii_lowercase());
                continue;
            }
            let before = text.len();
            push_folded(&mut text, c);
            if text.len() - before != c.len_utf8() {
                marks.push((text.len(), at + c.len_utf8()));
            }
        }
        Self {
            text,
            marks,
            original_len: original.len(),
        }
    }

    /// The original byte offset of folded offset `at`.
    fn original_offset(&self, at: usize) -> usize {
        let i = self.marks.partition_point(|&(folded, _)| folded <= at);
        let offset = match i {
            0 => at,
            _ => {
                let (folded, original) = self.marks[i - 1];
                original + (at - folded)
            }
        };
        offset.min(self.original_len)
    }

    /// The original span of a folded span, widened to whole characters (a folded `oe` is one
    /// `œ`).
    pub fn original_span(&self, original: &str, span: &Range<usize>) -> Range<usize> {
        let mut start = self.original_offset(span.start);
        while !original.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = self.original_offset(span.end).max(start);
        while !original.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }
}

/// As [`crate::text::fold`] for one character, except that no-break spaces are kept: they
/// group digits (`1 234,56 €`) and must not merge with the words around them.
fn push_folded(out: &mut String, c: char) {
    match c {
        '\u{a0}' | '\u{202f}' => out.push(c),
        'œ' | 'Œ' => out.push_str("oe"),
        'æ' | 'Æ' => out.push_str("ae"),
        'ß' => out.push_str("ss"),
        _ => {
            let f = crate::text::fold_char(c);
            if f.is_uppercase() {
                out.extend(f.to_lowercase());
            } else {
                out.push(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_maps_back() {
        let original = "Scadenza:\r\n\r\n  5 DÉCEMBRE 2026, cœur 1\u{202f}234,56 €";
        let f = Folded::new(original);
        assert_eq!(f.text, "scadenza: 5 decembre 2026, coeur 1\u{202f}234,56 €");
        let at = f.text.find("5 decembre").unwrap();
        let span = f.original_span(original, &(at..at + "5 decembre 2026".len()));
        assert_eq!(&original[span], "5 DÉCEMBRE 2026");
        let at = f.text.find("1\u{202f}234").unwrap();
        let span = f.original_span(original, &(at..f.text.len()));
        assert_eq!(&original[span], "1\u{202f}234,56 €");
        // Inside a character that folds to two letters: the whole character.
        let at = f.text.find("oe").unwrap();
        assert_eq!(&original[f.original_span(original, &(at + 1..at + 2))], "œ");
    }
}
