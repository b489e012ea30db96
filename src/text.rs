//! Text helpers shared by the stages: accent folding and word splitting for matching what
//! customers write ("è", "e'", "e" all mean the same to a keyword rule).

/// Compiles a pattern whose `\b` are ASCII word boundaries. A Unicode `\b` makes the regex
/// engine give up its fast DFA on any non-ASCII text (every accented message), and the
/// boundaries these patterns need are around digits and ASCII letters anyway.
pub fn regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).expect("valid built-in pattern")
}

/// Folds a Latin letter with a diacritic to its base letter (`é` → `e`, `ñ` → `n`, `ç` → `c`).
pub fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ñ' | 'ń' => 'n',
        'Ñ' | 'Ń' => 'N',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'ÿ' | 'ý' => 'y',
        // Romanian, Polish, Turkish, Czech: customers who write in other languages still get
        // their safety words matched.
        'ă' | 'ą' => 'a',
        'Ă' | 'Ą' => 'A',
        'ę' | 'ě' => 'e',
        'Ę' | 'Ě' => 'E',
        'ș' | 'ş' | 'ś' | 'š' => 's',
        'Ș' | 'Ş' | 'Ś' | 'Š' => 'S',
        'ț' | 'ţ' => 't',
        'Ț' | 'Ţ' => 'T',
        'ł' => 'l',
        'Ł' => 'L',
        'ź' | 'ż' | 'ž' => 'z',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        'ğ' => 'g',
        'Ğ' => 'G',
        'ı' => 'i',
        'İ' => 'I',
        'ř' => 'r',
        'Ř' => 'R',
        '’' | '‘' | '`' | '´' => '\'',
        '\u{a0}' | '\u{202f}' => ' ',
        other => other,
    }
}

/// Lower-cases and folds accents; `œ`/`æ` become two letters. Used for matching only.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            _ => {
                let f = fold_char(c);
                if f.is_uppercase() {
                    out.extend(f.to_lowercase());
                } else {
                    out.push(f);
                }
            }
        }
    }
    out
}

/// The words of folded text: runs of letters, digits and apostrophes split on the latter
/// (`l'acqua` → `l`, `acqua`).
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(fold("Già PAGATO, Señor, Reçu, cœur"), "gia pagato, senor, recu, coeur");
    }

    #[test]
    fn splits_words_on_apostrophes() {
        assert_eq!(words("l'acqua e' finita").collect::<Vec<_>>(), ["l", "acqua", "e", "finita"]);
    }
}

/// [`fold`] that also returns, for every byte of the folded text, the byte offset of the
/// character it came from, so matches in folded text can be mapped back to the original.
pub fn fold_with_offsets(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut offsets = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let before = out.len();
        out.push_str(&fold(c.encode_utf8(&mut [0u8; 4])));
        offsets.extend(std::iter::repeat_n(at, out.len() - before));
    }
    offsets.push(text.len());
    (out, offsets)
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn offsets_map_back_to_the_original() {
        let original = "Scadenza: 5 décembre 2026";
        let (folded, offsets) = fold_with_offsets(original);
        let start = folded.find("5 decembre").unwrap();
        let end = start + "5 decembre 2026".len();
        assert_eq!(&original[offsets[start]..offsets[end]], "5 décembre 2026");
    }
}

/// An error and its causes on one line, each cause added only when the text so far does not
/// already say it (reqwest and tera repeat their causes).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
