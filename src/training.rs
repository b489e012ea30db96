//! Training and evaluation of the classifier. `switchyard train` reads the labelled messages of
//! data/classifier/train (and the intents and urgencies staff corrected, from the store),
//! trains the three heads of the linear model (one-vs-rest SVMs) in a fixed order, and writes
//! the model file: the same data always gives the same bytes. `switchyard eval`
//! scores any labelled file with the metrics DESIGN.md names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::domain::{Intent, Language, Urgency};
use crate::pipeline::classify::features::{self, Features};
use crate::pipeline::classify::linear::{self, Head, LinearModel};
use crate::pipeline::classify::{self, Model};
use crate::pipeline::parse;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} line {line}: {message}")]
    Line { path: String, line: usize, message: String },
    #[error("no training data found in {0} (expected *.jsonl files)")]
    Empty(String),
    #[error(transparent)]
    Model(#[from] classify::linear::ModelError),
}

/// One labelled message, as in the eval format of DESIGN.md.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    #[serde(default)]
    pub subject: String,
    pub body: String,
    pub intent: Intent,
    pub urgency: Urgency,
    pub language: Language,
}

impl Example {
    /// The text the pipeline would classify: quoted history and signature split off.
    pub fn text(&self) -> String {
        parse::split_body(&self.body).0
    }
}

/// Reads labelled lines; other fields are ignored, a bad line is an error that names it.
pub fn load_jsonl(path: &Path) -> Result<Vec<Example>, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::Read { path: path.display().to_string(), message: e.to_string() })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| TrainingError::Line { path: path.display().to_string(), line: i + 1, message: e.to_string() })
        })
        .collect()
}

/// Every `*.jsonl` in `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Example>, TrainingError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| TrainingError::Read { path: dir.display().to_string(), message: e.to_string() })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(load_jsonl(&f)?);
    }
    if out.is_empty() {
        return Err(TrainingError::Empty(dir.display().to_string()));
    }
    Ok(out)
}

/// Hyper-parameters. Fixed: the shipped model must be reproducible from the data alone.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub buckets: u32,
    /// The SVM's cost of a margin violation (liblinear's C): higher fits the data closer.
    pub cost: f32,
    /// Passes over the data at most; training stops earlier once converged.
    pub max_passes: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { buckets: 1 << 18, cost: 1.0, max_passes: 50, seed: 20_261_121 }
    }
}

pub fn train(examples: &[Example], cfg: &TrainConfig) -> Result<LinearModel, TrainingError> {
    let mut features: Vec<Features> = examples
        .iter()
        .map(|e| features::extract(&crate::text::fold(&e.subject), &crate::text::fold(&e.text()), cfg.buckets))
        .collect();
    let idf = inverse_document_frequency(&features, cfg.buckets);
    features.iter_mut().for_each(|f| features::weigh(f, &idf));
    let labels = |all: &[&str], of: &dyn Fn(&Example) -> &'static str| -> (Vec<String>, Vec<usize>) {
        let index = examples.iter().map(|e| all.iter().position(|l| *l == of(e)).expect("label of the taxonomy")).collect();
        (all.iter().map(|l| l.to_string()).collect(), index)
    };
    let intents: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
    let urgencies: Vec<&str> = Urgency::ALL.iter().map(|u| u.as_str()).collect();
    let languages: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
    let head = |(names, index): (Vec<String>, Vec<usize>)| train_head(Head::new(names, cfg.buckets), &features, &index, cfg);
    let intent = head(labels(&intents, &|e| e.intent.as_str()));
    let urgency = head(labels(&urgencies, &|e| e.urgency.as_str()));
    let language = head(labels(&languages, &|e| e.language.as_str()));
    Ok(LinearModel::new(cfg.buckets, idf, intent, urgency, language)?)
}

/// Smoothed inverse document frequency per bucket, as stored in the model file.
fn inverse_document_frequency(features: &[Features], buckets: u32) -> Vec<f32> {
    let mut df = vec![0u32; buckets as usize];
    for f in features {
        f.iter().for_each(|&(b, _)| df[b as usize] += 1);
    }
    let n = features.len() as f32;
    df.iter().map(|&d| linear::quantize_idf(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)).collect()
}

/// One-vs-rest linear SVMs with the squared hinge loss, trained by dual coordinate descent
/// (Hsieh et al., ICML 2008, the algorithm of liblinear): exact, fast on sparse text, and in
/// a visiting order fixed by the seed.
fn train_head(mut head: Head, features: &[Features], labels: &[usize], cfg: &TrainConfig) -> Head {
    let k = head.classes();
    let d = 0.5 / cfg.cost;
    // The bias is the weight of a constant feature 1, hence the 1.0.
    let q: Vec<f32> = features.iter().map(|f| f.iter().map(|(_, v)| v * v).sum::<f32>() + 1.0 + d).collect();
    let mut rng = cfg.seed;
    for class in 0..k {
        let mut w = vec![0f32; cfg.buckets as usize];
        let mut bias = 0f32;
        let mut alpha = vec![0f32; features.len()];
        let mut order: Vec<usize> = (0..features.len()).collect();
        for _ in 0..cfg.max_passes {
            shuffle(&mut order, &mut rng);
            let mut largest_step = 0f32;
            for &i in &order {
                let y = if labels[i] == class { 1.0 } else { -1.0 };
                let f = &features[i];
                let margin = y * (f.iter().map(|&(b, v)| w[b as usize] * v).sum::<f32>() + bias);
                let gradient = margin - 1.0 + d * alpha[i];
                let projected = if alpha[i] == 0.0 { gradient.min(0.0) } else { gradient };
                largest_step = largest_step.max(projected.abs());
                if projected != 0.0 {
                    let old = alpha[i];
                    alpha[i] = (old - gradient / q[i]).max(0.0);
                    let delta = (alpha[i] - old) * y;
                    for &(b, v) in f {
                        w[b as usize] += delta * v;
                    }
                    bias += delta;
                }
            }
            if largest_step < 1e-3 {
                break;
            }
        }
        head.bias[class] = bias;
        for (b, wb) in w.iter().enumerate() {
            head.weights[b * k + class] = *wb;
        }
    }
    head
}

/// Fisher-Yates with SplitMix64: the order depends on the seed only.
fn shuffle(v: &mut [usize], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        v.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

/// Scores of one axis (intent, urgency or language).
#[derive(Debug, Clone, Serialize)]
pub struct AxisReport {
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Per class: precision, recall, F1, support.
    pub classes: BTreeMap<String, ClassReport>,
    /// `confusion[gold][predicted]`.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub n: usize,
    pub seconds: f64,
    pub intent: AxisReport,
    pub urgency: AxisReport,
    pub emergency_recall: f64,
    pub language: AxisReport,
}

fn axis(pairs: &[(String, String)]) -> AxisReport {
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (gold, pred) in pairs {
        *confusion.entry(gold.clone()).or_default().entry(pred.clone()).or_default() += 1;
    }
    let labels: std::collections::BTreeSet<&String> = pairs.iter().flat_map(|(g, p)| [g, p]).collect();
    let mut classes = BTreeMap::new();
    for l in labels {
        let tp = pairs.iter().filter(|(g, p)| g == l && p == l).count() as f64;
        let predicted = pairs.iter().filter(|(_, p)| p == l).count() as f64;
        let support = pairs.iter().filter(|(g, _)| g == l).count();
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = if support > 0 { tp / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        classes.insert(l.clone(), ClassReport { precision, recall, f1, support });
    }
    let correct = pairs.iter().filter(|(g, p)| g == p).count();
    AxisReport {
        accuracy: if pairs.is_empty() { 0.0 } else { correct as f64 / pairs.len() as f64 },
        macro_f1: if classes.is_empty() { 0.0 } else { classes.values().map(|c| c.f1).sum::<f64>() / classes.len() as f64 },
        classes,
        confusion,
    }
}

/// Classifies every example as the pipeline would (model, language check, safety override).
pub fn evaluate(examples: &[Example], model: &dyn Model, settings: &classify::Settings) -> EvalReport {
    let start = Instant::now();
    let predictions: Vec<classify::Classification> =
        examples.iter().map(|e| classify::classify_text(&e.subject, &e.text(), None, model, settings)).collect();
    score(examples, &predictions, start.elapsed().as_secs_f64())
}

/// Scores predictions (in the order of `examples`) against the labels.
pub fn score(examples: &[Example], predictions: &[classify::Classification], seconds: f64) -> EvalReport {
    let pairs = |gold: &dyn Fn(&Example) -> String, pred: &dyn Fn(&classify::Classification) -> String| -> Vec<(String, String)> {
        examples.iter().zip(predictions).map(|(e, p)| (gold(e), pred(p))).collect()
    };
    let urgency = axis(&pairs(&|e| e.urgency.to_string(), &|p| p.urgency.to_string()));
    EvalReport {
        n: examples.len(),
        seconds,
        intent: axis(&pairs(&|e| e.intent.to_string(), &|p| p.intent.to_string())),
        emergency_recall: urgency.classes.get("emergency").map_or(1.0, |c| c.recall),
        urgency,
        language: axis(&pairs(&|e| e.language.to_string(), &|p| p.language.to_string())),
    }
}

impl EvalReport {
    /// The JSON object of DESIGN.md's contract (`intent.accuracy`, `urgency.emergency_recall`…),
    /// with per-class figures and confusion matrices beside.
    pub fn to_json(&self) -> serde_json::Value {
        let axis = |a: &AxisReport| serde_json::json!({"accuracy": a.accuracy, "macro_f1": a.macro_f1, "classes": a.classes, "confusion": a.confusion});
        let mut urgency = axis(&self.urgency);
        urgency["emergency_recall"] = serde_json::json!(self.emergency_recall);
        serde_json::json!({"n": self.n, "seconds": self.seconds, "intent": axis(&self.intent), "urgency": urgency, "language": axis(&self.language)})
    }

    pub fn print(&self) {
        println!("{} messages in {:.3} s", self.n, self.seconds);
        for (name, a) in [("intent", &self.intent), ("urgency", &self.urgency), ("language", &self.language)] {
            println!("\n{name}: accuracy {:.3}, macro-F1 {:.3}", a.accuracy, a.macro_f1);
            if name == "urgency" {
                println!("emergency recall {:.3}", self.emergency_recall);
            }
            println!("  {:<18} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "F1", "support");
            for (label, c) in &a.classes {
                println!("  {:<18} {:>9.3} {:>9.3} {:>9.3} {:>8}", label, c.precision, c.recall, c.f1, c.support);
            }
            let labels: Vec<&String> = a.classes.keys().collect();
            println!("  confusion (rows gold, columns predicted):");
            print!("  {:<18}", "");
            for l in &labels {
                print!(" {:>6.6}", l);
            }
            println!();
            for g in &labels {
                print!("  {:<18}", g);
                for p in &labels {
                    print!(" {:>6}", a.confusion.get(*g).and_then(|r| r.get(*p)).copied().unwrap_or(0));
                }
                println!();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(body: &str, intent: Intent, urgency: Urgency, language: Language) -> Example {
        Example { subject: String::new(), body: body.into(), intent, urgency, language }
    }

    #[test]
    fn metrics_match_a_hand_count() {
        let r = axis(&[("a".into(), "a".into()), ("a".into(), "b".into()), ("b".into(), "b".into()), ("b".into(), "b".into())]);
        assert_eq!(r.accuracy, 0.75);
        let a = &r.classes["a"];
        assert_eq!((a.precision, a.recall), (1.0, 0.5));
        let b = &r.classes["b"];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-9 && b.recall == 1.0);
        assert!((r.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-9);
        assert_eq!(r.confusion["a"]["b"], 1);
    }

    #[test]
    fn training_learns_and_is_deterministic() {
        let data: Vec<Example> = (0..40)
            .flat_map(|i| {
                [
                    example(&format!("la bolletta numero {i} è troppo alta"), Intent::Billing, Urgency::Normal, Language::It),
                    example(&format!("siamo senza luce dalla strada {i}"), Intent::Outage, Urgency::High, Language::It),
                    example(&format!("my bill {i} is far too high"), Intent::Billing, Urgency::Normal, Language::En),
                ]
            })
            .collect();
        let cfg = TrainConfig { buckets: 1 << 12, max_passes: 5, ..TrainConfig::default() };
        let a = train(&data, &cfg).unwrap();
        let b = train(&data, &cfg).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes(), "same data, same model");
        let report = evaluate(&data, &a, &classify::Settings::default());
        assert_eq!(report.intent.accuracy, 1.0);
        assert_eq!(report.language.accuracy, 1.0);
        let reloaded = LinearModel::from_bytes(&a.to_bytes(), "test").unwrap();
        assert_eq!(reloaded.version(), a.version());
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = crate::testing::temp_dir("training");
        let f = dir.join("x.jsonl");
        std::fs::write(&f, "{\"subject\":\"\",\"body\":\"x\",\"intent\":\"billing\",\"urgency\":\"normal\",\"language\":\"it\"}\n{\"body\":\"x\",\"intent\":\"bills\"}\n").unwrap();
        let err = load_jsonl(&f).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("bills"), "{err}");
    }
}
