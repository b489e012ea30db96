//! Promises no system of record can confirm — waiving or cancelling a bill, a refund, a credit,
//! a discount, no late fees, no disconnection, something free, a guarantee, compensation — found
//! with a phrase lexicon in the four languages. A commitment is never verified by a fact: only
//! an allowlist entry that contains the same wording allows one.
//!
//! The lexicon is matched on the folded draft (lower-case, no accents, one space between words,
//! so a phrase broken over two lines is still one phrase) at word boundaries. Phrases are specific on purpose: "free", "sconto" or "garantire" alone
//! describe public schemes and our own procedures in the reply templates ("uno sconto in
//! bolletta" is the social bonus, "free, confidential advice" is MABS), so the lexicon names the
//! promise ("free of charge", "sconto del", "garantiamo"). A phrase ending in `*` is a stem
//! (`rimbors*`: rimborso, rimborseremo, rimborsabile).
//!
//! Neutral phrases describe standing policy or a brand fact, not a promise about this
//! customer's bill; a commitment inside one is not a claim. They are: the free phone line
//! ("numero verde gratuito" describes the number the allowlist already holds), and the
//! templates' standing rule that a payment made twice is refunded once it is confirmed.
//! Anything else — including a negated promise such as "non possiamo rimborsare" — is left for
//! the approver: a false alarm costs a look, a missed promise costs money.

use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};

/// What a phrase means: a promise (its concept, the claim's token) or neutral wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Promise(&'static str),
    Neutral,
}

const CANCEL: Meaning = Meaning::Promise("cancel_bill");
const WAIVE: Meaning = Meaning::Promise("waive");
const REFUND: Meaning = Meaning::Promise("refund");
const CREDIT: Meaning = Meaning::Promise("credit");
const DISCOUNT: Meaning = Meaning::Promise("discount");
const NO_FEE: Meaning = Meaning::Promise("no_late_fee");
const NO_PAYMENT: Meaning = Meaning::Promise("no_payment");
const NO_DISCONNECTION: Meaning = Meaning::Promise("no_disconnection");
const FREE: Meaning = Meaning::Promise("free_of_charge");
const GUARANTEE: Meaning = Meaning::Promise("guarantee");
const COMPENSATION: Meaning = Meaning::Promise("compensation");
const NEUTRAL: Meaning = Meaning::Neutral;

#[rustfmt::skip]
const ITALIAN: &[(&str, Meaning)] = &[
    ("annulleremo", CANCEL), ("annulliamo la bolletta", CANCEL), ("annulliamo la fattura", CANCEL),
    ("bolletta annullata", CANCEL), ("bolletta verrà annullata", CANCEL), ("storn*", CANCEL),
    ("condoniamo", WAIVE), ("condoneremo", WAIVE), ("condono", WAIVE), ("condonare", WAIVE), ("condonat*", WAIVE),
    ("abbuon*", WAIVE),
    ("rimbors*", REFUND), ("restituiremo", REFUND), ("riaccredit*", REFUND),
    ("accrediteremo", CREDIT), ("accredito sul", CREDIT), ("accredito in bolletta", CREDIT), ("nota di credito", CREDIT), ("note di credito", CREDIT),
    ("sconto del", DISCOUNT), ("sconto di", DISCOUNT), ("sconto sul", DISCOUNT), ("sconto sulla", DISCOUNT), ("sconto sulle", DISCOUNT),
    ("applicheremo uno sconto", DISCOUNT), ("le faremo uno sconto", DISCOUNT), ("bolletta scontata", DISCOUNT),
    ("prezzo scontato", DISCOUNT), ("tariffa scontata", DISCOUNT),
    ("nessuna mora", NO_FEE), ("senza mora", NO_FEE), ("nessun interesse di mora", NO_FEE), ("non applicheremo interessi", NO_FEE),
    ("non applicheremo penali", NO_FEE), ("non applicheremo la mora", NO_FEE), ("non applicheremo alcun*", NO_FEE),
    ("non le addebiteremo", NO_FEE), ("nessuna penale", NO_FEE), ("senza penali", NO_FEE), ("nessun costo aggiuntivo", NO_FEE),
    ("senza costi aggiuntivi", NO_FEE), ("nessun addebito", NO_FEE),
    ("non dovrà pagare", NO_PAYMENT), ("non dovrà versare", NO_PAYMENT), ("non deve pagare", NO_PAYMENT), ("non dovrà più pagare", NO_PAYMENT),
    ("non pagherà", NO_PAYMENT),
    ("non verrà sospes*", NO_DISCONNECTION), ("non sarà sospes*", NO_DISCONNECTION), ("non sospenderemo", NO_DISCONNECTION),
    ("nessun distacco", NO_DISCONNECTION), ("non procederemo al distacco", NO_DISCONNECTION), ("non verrà staccat*", NO_DISCONNECTION),
    ("non le staccheremo", NO_DISCONNECTION), ("non verrà interrott*", NO_DISCONNECTION), ("non interromperemo", NO_DISCONNECTION),
    ("non verrà disalimentat*", NO_DISCONNECTION),
    ("gratuit*", FREE), ("gratis", FREE), ("a costo zero", FREE), ("senza alcun costo", FREE), ("senza costi", FREE), ("in omaggio", FREE),
    ("senza spese", FREE),
    ("garantiamo", GUARANTEE), ("garantiremo", GUARANTEE), ("promettiamo", GUARANTEE),
    ("indennizz*", COMPENSATION), ("risarc*", COMPENSATION), ("indennità", COMPENSATION),
    ("numero verde gratuito", NEUTRAL), ("chiamata gratuita", NEUTRAL), ("la chiamata è gratuita", NEUTRAL), ("numero gratuito", NEUTRAL),
    ("le rimborseremo la somma versata in eccesso", NEUTRAL),
];

#[rustfmt::skip]
const SPANISH: &[(&str, Meaning)] = &[
    ("anularemos", CANCEL), ("anulamos la factura", CANCEL), ("factura anulada", CANCEL), ("factura será anulada", CANCEL),
    ("cancelaremos la factura", CANCEL), ("cancelaremos su factura", CANCEL),
    ("condonaremos", WAIVE), ("condonamos", WAIVE), ("le perdonamos", WAIVE), ("perdonaremos", WAIVE),
    ("reembols*", REFUND), ("devolveremos el importe", REFUND), ("devolveremos el dinero", REFUND), ("devolveremos la cantidad", REFUND),
    ("devolución del importe", REFUND), ("devolución del dinero", REFUND), ("reintegraremos", REFUND), ("reintegro", REFUND),
    ("abonaremos", CREDIT), ("abono en su cuenta", CREDIT), ("abono en su factura", CREDIT), ("nota de abono", CREDIT), ("nota de crédito", CREDIT),
    ("descontaremos", DISCOUNT), ("un descuento del", DISCOUNT), ("un descuento de", DISCOUNT), ("descuento sobre", DISCOUNT),
    ("le aplicaremos un descuento", DISCOUNT), ("rebaja", DISCOUNT),
    ("sin recargo", NO_FEE), ("sin recargos", NO_FEE), ("no le cobraremos", NO_FEE), ("sin intereses de demora", NO_FEE),
    ("sin penalización", NO_FEE), ("sin penalizaciones", NO_FEE), ("sin coste adicional", NO_FEE), ("sin costes adicionales", NO_FEE),
    ("no tendrá que pagar", NO_PAYMENT), ("no tiene que pagar", NO_PAYMENT), ("no deberá pagar", NO_PAYMENT), ("no tendrá que abonar", NO_PAYMENT),
    ("no le cortaremos", NO_DISCONNECTION), ("no cortaremos", NO_DISCONNECTION), ("no se cortará", NO_DISCONNECTION),
    ("no se le cortará", NO_DISCONNECTION), ("no suspenderemos", NO_DISCONNECTION), ("no se suspenderá", NO_DISCONNECTION),
    ("sin corte de suministro", NO_DISCONNECTION), ("no procederemos al corte", NO_DISCONNECTION),
    ("sin coste", FREE), ("sin costo", FREE), ("sin cargo", FREE), ("sin ningún coste", FREE),
    ("garantizamos", GUARANTEE), ("le prometemos", GUARANTEE), ("prometemos", GUARANTEE),
    ("compensación", COMPENSATION), ("compensaciones", COMPENSATION), ("compensaremos", COMPENSATION), ("indemniz*", COMPENSATION),
    ("llamada gratuita", NEUTRAL), ("teléfono gratuito", NEUTRAL), ("línea gratuita", NEUTRAL),
    ("le devolveremos el importe pagado de más", NEUTRAL),
];

#[rustfmt::skip]
const FRENCH: &[(&str, Meaning)] = &[
    ("nous annulerons", CANCEL), ("annulerons", CANCEL), ("nous annulons votre facture", CANCEL), ("nous annulons la facture", CANCEL),
    ("facture annulée", CANCEL), ("facture sera annulée", CANCEL),
    ("nous renonçons", WAIVE), ("remise gracieuse", WAIVE), ("abandon de créance", WAIVE), ("nous effacerons", WAIVE),
    ("rembours*", REFUND), ("nous vous restituerons", REFUND),
    ("un avoir", CREDIT), ("nous créditerons", CREDIT), ("créditerons", CREDIT), ("sera crédité*", CREDIT), ("recrédit*", CREDIT),
    ("une remise de", DISCOUNT), ("une remise sur", DISCOUNT), ("remise commerciale", DISCOUNT), ("une réduction de", DISCOUNT),
    ("une réduction sur", DISCOUNT), ("rabais", DISCOUNT), ("ristourne", DISCOUNT),
    ("sans frais", NO_FEE), ("sans pénalité", NO_FEE), ("sans pénalités", NO_FEE), ("aucuns frais", NO_FEE), ("aucune pénalité", NO_FEE),
    ("pas de frais", NO_FEE), ("sans majoration", NO_FEE), ("aucune majoration", NO_FEE),
    ("vous n'aurez rien à payer", NO_PAYMENT), ("vous n'aurez pas à payer", NO_PAYMENT), ("vous n'aurez rien à régler", NO_PAYMENT),
    ("vous n'aurez pas à régler", NO_PAYMENT), ("vous ne paierez pas", NO_PAYMENT), ("vous ne payerez pas", NO_PAYMENT),
    ("vous n'avez pas à payer", NO_PAYMENT),
    ("nous ne couperons pas", NO_DISCONNECTION), ("ne sera pas coupé*", NO_DISCONNECTION), ("nous ne suspendrons pas", NO_DISCONNECTION),
    ("ne sera pas suspendu*", NO_DISCONNECTION), ("pas de coupure", NO_DISCONNECTION), ("aucune coupure ne sera", NO_DISCONNECTION),
    ("sans coupure", NO_DISCONNECTION),
    ("vous est offert*", FREE), ("vous sera offert*", FREE), ("à titre gracieux", FREE), ("sans aucun frais", FREE), ("sans coût", FREE),
    ("nous garantissons", GUARANTEE), ("nous vous garantissons", GUARANTEE), ("je vous garantis", GUARANTEE),
    ("nous vous promettons", GUARANTEE), ("je vous promets", GUARANTEE),
    ("dédommag*", COMPENSATION), ("indemnis*", COMPENSATION), ("indemnité", COMPENSATION), ("indemnités", COMPENSATION),
    ("geste commercial", COMPENSATION), ("compensation financière", COMPENSATION), ("nous vous compenserons", COMPENSATION),
    ("appel gratuit", NEUTRAL), ("numéro gratuit", NEUTRAL), ("numéro vert", NEUTRAL), ("service et appel gratuits", NEUTRAL),
    ("nous vous rembourserons la somme payée en double", NEUTRAL),
];

#[rustfmt::skip]
const ENGLISH: &[(&str, Meaning)] = &[
    ("we will cancel your bill", CANCEL), ("we'll cancel your bill", CANCEL), ("cancel your bill", CANCEL), ("cancel the bill", CANCEL),
    ("bill has been cancelled", CANCEL), ("bill will be cancelled", CANCEL), ("bill has been canceled", CANCEL),
    ("bill will be canceled", CANCEL), ("cancel the charge", CANCEL), ("cancel the charges", CANCEL),
    ("write off", CANCEL), ("written off", CANCEL), ("write-off", CANCEL),
    ("waiv*", WAIVE),
    ("refund*", REFUND), ("reimburs*", REFUND), ("pay you back", REFUND), ("money back", REFUND),
    ("credit your account", CREDIT), ("credit to your account", CREDIT), ("credited to your account", CREDIT), ("account credit", CREDIT),
    ("we will credit", CREDIT), ("we'll credit", CREDIT), ("a credit of", CREDIT), ("credit note", CREDIT), ("be credited", CREDIT),
    ("a discount", DISCOUNT), ("discount of", DISCOUNT), ("discounted", DISCOUNT), ("reduce your bill", DISCOUNT), ("money off", DISCOUNT),
    ("no late fee", NO_FEE), ("no late fees", NO_FEE), ("no late payment fee", NO_FEE), ("no late payment charge", NO_FEE),
    ("no penalty", NO_FEE), ("no penalties", NO_FEE), ("without penalty", NO_FEE), ("no extra charge", NO_FEE),
    ("no additional charge", NO_FEE), ("no charge", NO_FEE), ("we will not charge", NO_FEE), ("we won't charge", NO_FEE),
    ("will not be charged", NO_FEE), ("won't be charged", NO_FEE), ("no interest", NO_FEE),
    ("you will not have to pay", NO_PAYMENT), ("you won't have to pay", NO_PAYMENT), ("you will not need to pay", NO_PAYMENT),
    ("you won't need to pay", NO_PAYMENT), ("you do not have to pay", NO_PAYMENT), ("you don't have to pay", NO_PAYMENT),
    ("you do not need to pay", NO_PAYMENT), ("you don't need to pay", NO_PAYMENT),
    ("you will not be disconnected", NO_DISCONNECTION), ("you won't be disconnected", NO_DISCONNECTION),
    ("will not be disconnected", NO_DISCONNECTION), ("won't be disconnected", NO_DISCONNECTION),
    ("we will not disconnect", NO_DISCONNECTION), ("we won't disconnect", NO_DISCONNECTION), ("no disconnection", NO_DISCONNECTION),
    ("will not be cut off", NO_DISCONNECTION), ("won't be cut off", NO_DISCONNECTION),
    ("free of charge", FREE), ("for free", FREE), ("at no cost", FREE), ("at no charge", FREE), ("at no extra cost", FREE),
    ("no cost to you", FREE), ("complimentary", FREE),
    ("we guarantee", GUARANTEE), ("i guarantee", GUARANTEE), ("guaranteed", GUARANTEE), ("we promise", GUARANTEE), ("i promise", GUARANTEE),
    ("compensation", COMPENSATION), ("compensate you", COMPENSATION), ("we will compensate", COMPENSATION),
    ("goodwill payment", COMPENSATION), ("goodwill gesture", COMPENSATION), ("gesture of goodwill", COMPENSATION),
    ("goodwill credit", COMPENSATION),
    ("refund the amount paid twice", NEUTRAL),
];

struct Phrase {
    meaning: Meaning,
    /// A stem: the match runs on to the end of the word.
    stem: bool,
}

struct Lexicon {
    automaton: AhoCorasick,
    phrases: Vec<Phrase>,
    /// The first four bytes of every phrase, hashed into a bit set: most words start no
    /// phrase, and this says so without running the automaton.
    openings: Vec<u64>,
}

const OPENING_BITS: u32 = 16;

/// A hash of the four bytes at `at`, if there are four.
fn opening(b: &[u8], at: usize) -> Option<usize> {
    let four: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some((u32::from_le_bytes(four).wrapping_mul(0x9E37_79B1) >> (32 - OPENING_BITS)) as usize)
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut patterns: Vec<String> = Vec::new();
    let mut phrases = Vec::new();
    let mut openings = vec![0u64; (1 << OPENING_BITS) / 64];
    for &(phrase, meaning) in ITALIAN.iter().chain(SPANISH).chain(FRENCH).chain(ENGLISH) {
        let stem = phrase.ends_with('*');
        let folded = crate::text::fold(phrase.trim_end_matches('*'));
        // The same wording in two languages ("gratuit*"): the first one stands.
        if patterns.contains(&folded) {
            continue;
        }
        let bit = opening(folded.as_bytes(), 0).expect("every phrase has four bytes");
        openings[bit / 64] |= 1 << (bit % 64);
        patterns.push(folded);
        phrases.push(Phrase { meaning, stem });
    }
    // Anchored at a word start, the longest phrase there wins: a neutral phrase over the
    // promise it begins with ("refund the amount paid twice" over "refund"), and reading goes
    // on after it, so it also covers the promises inside it ("le rimborseremo la somma…").
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("the commitment lexicon builds");
    Lexicon {
        automaton,
        phrases,
        openings,
    }
});

/// Every commitment in `folded` (the folded draft): its folded span and concept, in order.
/// Phrases are looked for only where a word starts with the first four bytes of one.
pub(super) fn find(folded: &str) -> Vec<(Range<usize>, &'static str)> {
    let lexicon = &*LEXICON;
    let b = folded.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        if !b[at].is_ascii_lowercase() {
            at += 1;
            continue;
        }
        let word_start = at == 0
            || (!b[at - 1].is_ascii_alphanumeric()
                && (b[at - 1].is_ascii() || at_word_start(folded, at)));
        let opens =
            opening(b, at).is_some_and(|bit| lexicon.openings[bit / 64] & (1 << (bit % 64)) != 0);
        let anchored = Input::new(folded).span(at..b.len()).anchored(Anchored::Yes);
        if word_start
            && opens
            && let Some(m) = lexicon.automaton.find(anchored)
        {
            let phrase = &lexicon.phrases[m.pattern().as_usize()];
            let end = if phrase.stem {
                word_end(folded, m.end())
            } else {
                m.end()
            };
            if at_word_end(folded, end) {
                if let Meaning::Promise(concept) = phrase.meaning {
                    out.push((at..end, concept));
                }
                at = end;
                continue;
            }
        }
        while at < b.len() && b[at].is_ascii_lowercase() {
            at += 1;
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn at_word_start(text: &str, at: usize) -> bool {
    !text[..at].chars().next_back().is_some_and(is_word_char)
}

fn at_word_end(text: &str, at: usize) -> bool {
    !text[at..].chars().next().is_some_and(is_word_char)
}

fn word_end(text: &str, from: usize) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(text.len(), |(i, _)| from + i)
}
