//! Features of a message for the linear model: accent-folded word unigrams and bigrams, the
//! subject's words marked apart, a length class, and character 3- to 5-grams inside words
//! (robust to typos, missing accents and inflection). Hashed into a fixed number of buckets,
//! weighed by inverse document frequency; the word half and the character half are each
//! scaled to unit length, so neither drowns the other.

/// A sparse feature vector: (bucket, value), buckets unique and sorted.
pub type Features = Vec<(u32, f32)>;

/// FNV-1a, 64 bits: stable across platforms and releases, which a shipped model needs.
fn hash(kind: u8, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(kind);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            eat(0x1f);
        }
        p.bytes().for_each(&mut eat);
    }
    h
}

/// Counts of the features of accent-folded, lower-case subject and text, sub-linear (a word
/// said five times is not five times the evidence). Word features hash into the lower half of
/// the buckets, character n-grams into the upper half.
pub fn extract(subject: &str, text: &str, buckets: u32) -> Features {
    let words: Vec<&str> = crate::text::words(text).take(300).collect();
    let subject_words: Vec<&str> = crate::text::words(subject).take(30).collect();
    let mut word_side: Vec<u64> = Vec::with_capacity(2 * words.len() + 40);
    let mut char_side: Vec<u64> = Vec::with_capacity(12 * words.len());
    for w in words.iter().chain(&subject_words) {
        word_side.push(hash(b'w', &[w]));
        char_ngrams(w, &mut char_side);
    }
    for pair in words.windows(2) {
        word_side.push(hash(b'b', &[pair[0], pair[1]]));
    }
    for w in &subject_words {
        word_side.push(hash(b's', &[w]));
    }
    // A short message is a different kind of message (one-liners, thanks, WhatsApp).
    let length = match words.len() {
        0..=5 => "xs",
        6..=20 => "s",
        21..=60 => "m",
        _ => "l",
    };
    word_side.push(hash(b'n', &[length]));
    word_side.push(hash(b'z', &["bias"]));

    let half = u64::from(buckets / 2);
    let mut out: Features = word_side
        .into_iter()
        .map(|h| (h % half) as u32)
        .chain(char_side.into_iter().map(|h| (half + h % half) as u32))
        .map(|b| (b, 1.0))
        .collect();
    out.sort_unstable_by_key(|(b, _)| *b);
    out.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            true
        } else {
            false
        }
    });
    for (_, v) in &mut out {
        *v = 1.0 + v.ln();
    }
    out
}

/// Weighs counts by inverse document frequency (a word every message has says little) and
/// scales each half to unit length, so long mails do not outweigh short ones.
pub fn weigh(features: &mut Features, idf: &[f32]) {
    for (b, v) in features.iter_mut() {
        *v *= idf[*b as usize];
    }
    let half = (idf.len() / 2) as u32;
    let split = features.partition_point(|(b, _)| *b < half);
    let (words, chars) = features.split_at_mut(split);
    unit_length(words);
    unit_length(chars);
}

fn unit_length(features: &mut [(u32, f32)]) {
    let norm = features.iter().map(|(_, v)| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    for (_, v) in features.iter_mut() {
        *v /= norm;
    }
}

fn char_ngrams(word: &str, out: &mut Vec<u64>) {
    // Numbers carry no meaning as n-grams (amounts, dates, ids): their shape is in the words.
    if word.chars().all(|c| c.is_ascii_digit()) {
        return;
    }
    let padded: Vec<char> = std::iter::once('^').chain(word.chars()).chain(std::iter::once('$')).collect();
    let mut buf = String::with_capacity(24);
    for n in 3..=5usize {
        if padded.len() < n {
            break;
        }
        for start in 0..=padded.len() - n {
            buf.clear();
            buf.extend(&padded[start..start + n]);
            out.push(hash(b'c', &[&buf]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighed(subject: &str, text: &str) -> Features {
        let mut f = extract(subject, text, 1 << 16);
        weigh(&mut f, &vec![1.5; 1 << 16]);
        f
    }

    #[test]
    fn each_half_is_unit_length_sorted_and_stable() {
        let f = weighed("bolletta", "la bolletta e' troppo alta");
        let half = 1 << 15;
        let words: f32 = f.iter().filter(|(b, _)| *b < half).map(|(_, v)| v * v).sum();
        let chars: f32 = f.iter().filter(|(b, _)| *b >= half).map(|(_, v)| v * v).sum();
        assert!((words - 1.0).abs() < 1e-4 && (chars - 1.0).abs() < 1e-4, "{words} {chars}");
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(f, weighed("bolletta", "la bolletta e' troppo alta"));
        assert_ne!(f, weighed("bolletta", "la bolletta e' troppo bassa"));
    }

    #[test]
    fn hashing_is_fnv1a_so_a_shipped_model_stays_valid() {
        // FNV-1a-64 of the bytes "wgas", computed independently.
        assert_eq!(hash(b'w', &["gas"]), 0x2b46_b5f6_0f59_058f);
    }
}
