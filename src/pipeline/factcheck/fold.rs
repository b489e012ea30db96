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
        let bytes = original.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
        let mut marks = Vec::new();
        // Bytes that stay as they are (lower-case ASCII, digits, punctuation, a space after
        // anything but whitespace) are copied a run at a time; only capitals, other whitespace
        // and non-ASCII characters are looked at one by one.
        let after_space = |at: usize| at > 0 && bytes[at - 1].is_ascii_whitespace();
        let (mut run, mut at) = (0, 0);
        while at < bytes.len() {
            let b = bytes[at];
            let plain = match b {
                b' ' => !after_space(at),
                0x21..=0x7E => !b.is_ascii_uppercase(),
                _ => false,
            };
            if plain {
                at += 1;
                continue;
            }
            out.extend_from_slice(&bytes[run..at]);
            let len = if b.is_ascii_whitespace() {
                if after_space(at) {
                    // Swallowed: the original moves on, the folded text does not.
                    marks.push((out.len(), at + 1));
                } else {
                    out.push(b' ');
                }
                1
            } else if b.is_ascii() {
                out.push(b.to_ascii_lowercase());
                1
            } else {
                let c = original[at..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let before = out.len();
                push_folded(&mut out, c);
                if out.len() - before != c.len_utf8() {
                    marks.push((out.len(), at + c.len_utf8()));
                }
                c.len_utf8()
            };
            at += len;
            run = at;
        }
        out.extend_from_slice(&bytes[run..]);
        // Valid UTF-8: ASCII and whole encoded characters were written.
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
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
fn push_folded(out: &mut Vec<u8>, c: char) {
    match c {
        '\u{a0}' | '\u{202f}' => push_char(out, c),
        'œ' | 'Œ' => out.extend_from_slice(b"oe"),
        'æ' | 'Æ' => out.extend_from_slice(b"ae"),
        'ß' => out.extend_from_slice(b"ss"),
        _ => {
            let f = crate::text::fold_char(c);
            if f.is_uppercase() {
                f.to_lowercase().for_each(|l| push_char(out, l));
            } else {
                push_char(out, f);
            }
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
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
