//! The trained model: three heads (intent, urgency, language) of one-vs-rest linear SVMs over
//! the hashed features of features.rs, their scores turned into probabilities by a softmax. Weights are stored as 8-bit integers with one scale per head, which keeps
//! the file small and loses nothing a linear model notices.
//!
//! File layout (little-endian): `SYCL` 2u8, buckets u32, inverse document frequencies u8 ×
//! buckets (in steps of 1/16), then per head: classes u32, each label as u16 length + UTF-8,
//! scale f32, biases f32 × classes, weights i8 × buckets × classes (bucket-major).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::features::{self, Features};
use super::{Model, ModelInput, Prediction};
use crate::domain::{Intent, Language, Urgency};

const MAGIC: &[u8; 5] = b"SYCL\x02";

/// See [`Head::probabilities`].
pub const SCORE_SCALE: f32 = 3.0;

/// Inverse document frequencies are stored in sixteenths: 1.0 to 15.9 covers any corpus.
const IDF_STEPS: f32 = 16.0;

/// The stored form of an inverse document frequency; training uses it too, so the model it
/// fits is the model it saves.
pub fn quantize_idf(idf: f32) -> f32 {
    (idf * IDF_STEPS).round().clamp(1.0, 255.0) / IDF_STEPS
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0} is not a Switchyard model file (bad header)")]
    Header(String),
    #[error("model file {origin} is truncated or corrupt: {what}")]
    Corrupt { origin: String, what: String },
    #[error("model file {origin}: unknown label `{label}` in the {head} head")]
    Label { origin: String, head: &'static str, label: String },
}

/// One softmax classifier over the shared features.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub labels: Vec<String>,
    pub bias: Vec<f32>,
    /// Bucket-major: `weights[bucket * classes + class]`.
    pub weights: Vec<f32>,
}

impl Head {
    pub fn new(labels: Vec<String>, buckets: u32) -> Self {
        let k = labels.len();
        Self { bias: vec![0.0; k], weights: vec![0.0; buckets as usize * k], labels }
    }

    pub fn classes(&self) -> usize {
        self.labels.len()
    }

    pub fn scores(&self, f: &Features) -> Vec<f32> {
        let k = self.classes();
        let mut s = self.bias.clone();
        for &(b, v) in f {
            let row = &self.weights[b as usize * k..(b as usize + 1) * k];
            for (acc, w) in s.iter_mut().zip(row) {
                *acc += w * v;
            }
        }
        s
    }

    /// SVM scores sit around ±1 at the margin; scaled by [`SCORE_SCALE`] before the softmax
    /// they read as probabilities: a class one margin ahead of the next gets about 0.95.
    pub fn probabilities(&self, f: &Features) -> Vec<f32> {
        softmax(&self.scores(f).iter().map(|s| s * SCORE_SCALE).collect::<Vec<_>>())
    }
}

pub fn softmax(scores: &[f32]) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[derive(Debug, Clone)]
pub struct LinearModel {
    version: String,
    pub buckets: u32,
    /// Per bucket, quantised (see [`quantize_idf`]).
    pub idf: Vec<f32>,
    pub intent: Head,
    pub urgency: Head,
    pub language: Head,
    intents: Vec<Intent>,
    urgencies: Vec<Urgency>,
    languages: Vec<Language>,
}

/// What the model says of one message, before the safety override.
#[derive(Debug, Clone)]
pub struct Scores {
    pub intent: Vec<(Intent, f32)>,
    pub urgency: Vec<(Urgency, f32)>,
    pub language: Vec<(Language, f32)>,
}

impl LinearModel {
    /// A model from trained heads. Its version names the bytes it would be saved as, so a
    /// model and its file always carry the same version.
    pub fn new(buckets: u32, idf: Vec<f32>, intent: Head, urgency: Head, language: Head) -> Result<Self, ModelError> {
        let model = Self {
            version: String::new(),
            buckets,
            idf,
            intents: head_labels(&intent, "intent", "model")?,
            urgencies: head_labels(&urgency, "urgency", "model")?,
            languages: head_labels(&language, "language", "model")?,
            intent,
            urgency,
            language,
        };
        // Round-trip through the stored form: predictions then match the shipped file exactly.
        Self::from_bytes(&model.to_bytes(), "model")
    }

    /// The model compiled into the binary (models/classifier.bin).
    pub fn embedded() -> Result<Arc<Self>, ModelError> {
        static MODEL: std::sync::LazyLock<Result<Arc<LinearModel>, String>> = std::sync::LazyLock::new(|| {
            LinearModel::from_bytes(crate::embedded::CLASSIFIER_MODEL, "the embedded model (models/classifier.bin)")
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        MODEL.clone().map_err(|e| ModelError::Corrupt { origin: "embedded model".into(), what: format!("{e}; run `switchyard train` and rebuild") })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Corrupt { origin: path.display().to_string(), what: e.to_string() })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    pub fn features(&self, subject: &str, text: &str) -> Features {
        let mut f = features::extract(subject, text, self.buckets);
        features::weigh(&mut f, &self.idf);
        f
    }

    pub fn scores(&self, subject: &str, text: &str) -> Scores {
        let f = self.features(subject, text);
        let ranked = |head: &Head| -> Vec<(usize, f32)> {
            let mut p: Vec<(usize, f32)> = head.probabilities(&f).into_iter().enumerate().collect();
            p.sort_by(|a, b| b.1.total_cmp(&a.1));
            p
        };
        Scores {
            intent: ranked(&self.intent).into_iter().map(|(i, p)| (self.intents[i], p)).collect(),
            urgency: ranked(&self.urgency).into_iter().map(|(i, p)| (self.urgencies[i], p)).collect(),
            language: ranked(&self.language).into_iter().map(|(i, p)| (self.languages[i], p)).collect(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.idf.len() + self.weights_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.buckets.to_le_bytes());
        out.extend(self.idf.iter().map(|&idf| (quantize_idf(idf) * IDF_STEPS) as u8));
        for head in [&self.intent, &self.urgency, &self.language] {
            out.extend_from_slice(&(head.classes() as u32).to_le_bytes());
            for l in &head.labels {
                out.extend_from_slice(&(l.len() as u16).to_le_bytes());
                out.extend_from_slice(l.as_bytes());
            }
            let max = head.weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            out.extend_from_slice(&scale.to_le_bytes());
            for b in &head.bias {
                out.extend_from_slice(&b.to_le_bytes());
            }
            out.extend(head.weights.iter().map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8));
        }
        out
    }

    fn weights_len(&self) -> usize {
        self.intent.weights.len() + self.urgency.weights.len() + self.language.weights.len()
    }

    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, ModelError> {
        let corrupt = |what: &str| ModelError::Corrupt { origin: origin.into(), what: what.into() };
        if !bytes.starts_with(MAGIC) {
            return Err(ModelError::Header(origin.into()));
        }
        let mut at = MAGIC.len();
        let mut take = |n: usize| -> Result<&[u8], ModelError> {
            let s = bytes.get(at..at + n).ok_or_else(|| corrupt("unexpected end"))?;
            at += n;
            Ok(s)
        };
        let u32_at = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
        let f32_at = |s: &[u8]| f32::from_le_bytes(s.try_into().expect("4 bytes"));
        let buckets = u32_at(take(4)?);
        if buckets == 0 || buckets > 1 << 24 {
            return Err(corrupt("bucket count"));
        }
        let idf = take(buckets as usize)?.iter().map(|&q| f32::from(q.max(1)) / IDF_STEPS).collect();
        let mut heads = Vec::with_capacity(3);
        for _ in 0..3 {
            let k = u32_at(take(4)?) as usize;
            if k == 0 || k > 64 {
                return Err(corrupt("class count"));
            }
            let mut labels = Vec::with_capacity(k);
            for _ in 0..k {
                let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
                labels.push(String::from_utf8(take(len)?.to_vec()).map_err(|_| corrupt("label is not UTF-8"))?);
            }
            let scale = f32_at(take(4)?);
            let bias = (0..k).map(|_| take(4).map(f32_at)).collect::<Result<Vec<_>, _>>()?;
            let weights = take(buckets as usize * k)?.iter().map(|&q| f32::from(q as i8) * scale).collect();
            heads.push(Head { labels, bias, weights });
        }
        if at != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        let [intent, urgency, language]: [Head; 3] = heads.try_into().expect("three heads");
        Ok(Self {
            version: format!("linear-{}", &hex(&Sha256::digest(bytes))[..12]),
            buckets,
            idf,
            intents: head_labels(&intent, "intent", origin)?,
            urgencies: head_labels(&urgency, "urgency", origin)?,
            languages: head_labels(&language, "language", origin)?,
            intent,
            urgency,
            language,
        })
    }
}

fn head_labels<T: std::str::FromStr>(head: &Head, name: &'static str, origin: &str) -> Result<Vec<T>, ModelError> {
    head.labels
        .iter()
        .map(|l| l.parse().map_err(|_| ModelError::Label { origin: origin.into(), head: name, label: l.clone() }))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Model for LinearModel {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict(&self, input: &ModelInput<'_>) -> Prediction {
        let s = self.scores(input.subject, input.text);
        let (intent, confidence) = s.intent[0];
        Prediction {
            intent,
            urgency: s.urgency[0].0,
            confidence,
            alternatives: s.intent[1..].iter().take(3).copied().collect(),
            emergency_probability: s.urgency.iter().find(|(u, _)| *u == Urgency::Emergency).map_or(0.0, |(_, p)| *p),
            language: Some(s.language[0]),
        }
    }
}
