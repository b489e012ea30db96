//! Language detection by function words: it, es, fr, en, or other. Short messages lean on the
//! Content-Language header when the words say nothing.

use crate::domain::Language;

/// Words that are frequent in one language and rare in the others (accent-folded).
const IT: &[&str] = &["il", "di", "che", "non", "per", "sono", "ho", "della", "del", "gli", "grazie", "buongiorno", "buonasera", "salve", "bolletta", "luce", "questo", "questa", "ancora", "vorrei", "cordiali", "saluti", "gentile", "perche", "anche", "nella", "sul", "alla", "dal", "mio", "mia", "essere", "stato", "sempre", "oggi", "ieri", "ma", "ci", "mi", "gas", "acqua", "lettura", "contatore", "pagato", "fattura", "vi", "chiedo", "scrivo", "grazie mille", "casa", "nostro", "abbiamo", "siamo", "ditta", "dopo", "tutto", "niente", "senza", "ogni", "molto", "allora", "qui", "piu", "sto", "fa", "ecco", "nn", "cmq", "xke", "x"];
const ES: &[&str] = &["el", "los", "las", "que", "por", "para", "con", "es", "una", "y", "mi", "gracias", "hola", "buenos", "buenas", "dias", "tardes", "factura", "luz", "pero", "como", "muy", "esta", "estoy", "tengo", "saludos", "quisiera", "desde", "hace", "del", "al", "se", "lo", "su", "nos", "sin", "hay", "ya", "cuando", "todo", "estimados", "atentamente", "favor", "agua", "lectura", "contador", "pagado", "recibo", "usted", "ustedes", "necesito", "quiero", "puedo", "pueden", "tambien", "aun", "ayer", "hoy", "casa", "mis", "le", "les", "he", "han", "nada", "porque", "q", "xq", "tb"];
const FR: &[&str] = &["le", "les", "des", "du", "que", "ne", "pas", "pour", "avec", "est", "une", "et", "je", "vous", "merci", "bonjour", "cordialement", "facture", "mon", "ma", "mes", "nous", "sur", "dans", "ai", "suis", "madame", "monsieur", "au", "aux", "ce", "cette", "qui", "mais", "plus", "tres", "votre", "vos", "depuis", "toujours", "aujourd", "hier", "chez", "moi", "eau", "compteur", "releve", "paye", "electricite", "courant", "sont", "ont", "etre", "fait", "j", "c", "n", "qu", "d", "il", "y", "a", "svp", "bonsoir"];
const EN: &[&str] = &["the", "and", "to", "of", "is", "my", "i", "you", "for", "with", "have", "not", "on", "please", "thanks", "thank", "hello", "hi", "dear", "bill", "power", "this", "that", "it", "be", "was", "are", "regards", "kind", "would", "can", "could", "there", "since", "today", "yesterday", "we", "our", "your", "been", "has", "what", "when", "no", "at", "an", "electricity", "water", "meter", "reading", "paid", "account", "just", "still", "from", "about", "don", "t", "m", "s", "im", "pls", "u"];
/// German, Portuguese, Dutch, Romanian, Polish markers: recognised so they are not misread.
const OTHER: &[&str] = &["der", "die", "das", "und", "ich", "nicht", "ist", "mit", "sie", "bitte", "danke", "rechnung", "strom", "guten", "tag", "wir", "auf", "fur", "ein", "eine", "haben", "keine", "meine", "mein", "zahlung", "vielen", "grusse", "nao", "obrigado", "obrigada", "fatura", "voce", "voces", "estou", "tenho", "minha", "meu", "luz", "conta", "ola", "bom", "dia", "het", "een", "ik", "niet", "dank", "factuur", "stroom", "geen", "mijn", "wij", "hebben", "goedemorgen", "sunt", "nu", "este", "multumesc", "factura", "curent", "nie", "jest", "dziekuje", "rachunek", "prad", "mam", "moj", "prosze"];

/// Words counted for more than one language are worth less: they barely tell languages apart.
pub fn detect(subject: &str, text: &str, content_language: Option<&str>) -> Language {
    let mut scores = [0.0f32; 5];
    let lists: [(&[&str], usize); 5] = [(IT, 0), (ES, 1), (FR, 2), (EN, 3), (OTHER, 4)];
    let mut words = 0usize;
    for word in crate::text::words(subject).chain(crate::text::words(text)).take(400) {
        words += 1;
        let hits: Vec<usize> = lists.iter().filter(|(l, _)| l.contains(&word)).map(|(_, i)| *i).collect();
        if hits.is_empty() {
            continue;
        }
        let weight = 1.0 / hits.len() as f32;
        for i in hits {
            scores[i] += weight;
        }
    }
    let (best, best_score) = scores
        .iter()
        .enumerate()
        .fold((0, 0.0f32), |acc, (i, &s)| if s > acc.1 { (i, s) } else { acc });
    let second = scores.iter().enumerate().filter(|(i, _)| *i != best).map(|(_, s)| *s).fold(0.0f32, f32::max);
    let confident = best_score >= 1.5 && best_score > second * 1.2;
    if !confident || words == 0 {
        if let Some(lang) = content_language.and_then(from_tag) {
            return lang;
        }
    }
    if best_score < 0.5 {
        return content_language.and_then(from_tag).unwrap_or(Language::Other);
    }
    [Language::It, Language::Es, Language::Fr, Language::En, Language::Other][best]
}

fn from_tag(tag: &str) -> Option<Language> {
    let primary = tag.split([',', '-', '_', ';']).next()?.trim().to_ascii_lowercase();
    Some(match primary.as_str() {
        "it" => Language::It,
        "es" => Language::Es,
        "fr" => Language::Fr,
        "en" => Language::En,
        "" => return None,
        _ => Language::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold;

    fn lang(text: &str) -> Language {
        detect("", &fold(text), None)
    }

    #[test]
    fn detects_the_four_languages_and_other() {
        assert_eq!(lang("Buongiorno, non ho ricevuto la bolletta di ottobre. Grazie"), Language::It);
        assert_eq!(lang("Hola, no he recibido la factura de octubre. Gracias"), Language::Es);
        assert_eq!(lang("Bonjour, je n'ai pas reçu ma facture d'octobre. Merci"), Language::Fr);
        assert_eq!(lang("Hello, I have not received my October bill. Thanks"), Language::En);
        assert_eq!(lang("Guten Tag, ich habe meine Rechnung nicht bekommen. Danke"), Language::Other);
    }

    #[test]
    fn short_texts_fall_back_to_content_language() {
        assert_eq!(detect("", "ok", Some("fr-FR")), Language::Fr);
        assert_eq!(detect("", "", None), Language::Other);
    }

    #[test]
    fn whatsapp_style_without_accents() {
        assert_eq!(lang("ciao nn ho la luce da stamattina"), Language::It);
        assert_eq!(lang("oye me habeis cortado la luz??"), Language::Es);
    }
}
