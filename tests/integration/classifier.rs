//! The classifier on the project's own data: the safety override never misses an emergency,
//! rarely cries wolf, the shipped model is what `switchyard train` builds from the data, and
//! `eval`/`classify` keep the JSON contract of DESIGN.md.

use std::path::Path;

use switchyard::domain::Urgency;
use switchyard::pipeline::classify::{self, Settings, linear::LinearModel, safety};
use switchyard::training::{self, Example};

use crate::helpers::{TestDir, samples_dir};

fn data(split: &str) -> Vec<Example> {
    training::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/classifier").join(split)).expect("labelled data")
}

/// Every labelled message the project has: training, development and the sample mailbox
/// (whose expected outcomes carry intent and urgency).
fn every_labelled_message() -> Vec<Example> {
    let mut all = data("train");
    all.extend(data("dev"));
    for entry in std::fs::read_dir(samples_dir()).expect("samples").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".expected.json") else { continue };
        let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        let (Some(urgency), Some(intent)) = (expected["urgency"].as_str(), expected["intent"].as_str()) else { continue };
        let raw = std::fs::read(samples_dir().join(format!("{stem}.eml"))).unwrap();
        let Ok(p) = switchyard::pipeline::parse::run(&raw, 0, switchyard::pipeline::parse::Limits { max_bytes: u64::MAX }) else { continue };
        let language = expected["language"].as_str().unwrap_or("other");
        all.push(Example {
            subject: p.subject,
            body: p.text,
            intent: intent.parse().unwrap(),
            urgency: urgency.parse().unwrap(),
            language: language.parse().unwrap(),
        });
    }
    all
}

#[test]
fn no_emergency_in_the_projects_data_is_missed_and_false_alarms_stay_rare() {
    let model = LinearModel::embedded().expect("embedded model");
    let settings = Settings::default();
    let all = every_labelled_message();
    let (mut emergencies, mut missed, mut others, mut false_alarms) = (0, Vec::new(), 0, Vec::new());
    let mut rules_missed = Vec::new();
    for e in &all {
        let text = e.text();
        let c = classify::classify_text(&e.subject, &text, None, model.as_ref(), &settings);
        let rules = safety::scan(&switchyard::text::fold(&e.subject), &switchyard::text::fold(&text)).is_some();
        if e.urgency == Urgency::Emergency {
            emergencies += 1;
            if !rules {
                rules_missed.push(format!("{} | {}", e.subject, e.body.chars().take(300).collect::<String>()));
            }
            if c.urgency != Urgency::Emergency {
                missed.push(format!("{} | {}", e.subject, e.body.chars().take(160).collect::<String>()));
            }
        } else {
            others += 1;
            if c.urgency == Urgency::Emergency {
                false_alarms.push(format!("{} | {}", e.subject, e.body.chars().take(160).collect::<String>()));
            }
        }
    }
    eprintln!(
        "{emergencies} emergencies ({} found by the safety phrases alone), {} missed; {} false alarms in {others} others",
        emergencies - rules_missed.len(),
        missed.len(),
        false_alarms.len()
    );
    assert!(emergencies >= 600, "the data should hold many emergencies, found {emergencies}");
    assert!(missed.is_empty(), "missed emergencies:\n{}", missed.join("\n"));
    assert!(rules_missed.is_empty(), "the safety phrases alone must find every emergency; they missed:\n{}", rules_missed.join("\n"));
    let rate = false_alarms.len() as f64 / others as f64;
    assert!(rate <= 0.02, "false alarms {:.2}% (at most 2%):\n{}", rate * 100.0, false_alarms.join("\n"));
}

#[test]
fn switchyard_train_rebuilds_the_shipped_model_byte_for_byte() {
    let dir = TestDir::new("train");
    let out = dir.path.join("model.bin");
    let run = dir.command().args(["train", "--out"]).arg(&out).output().expect("train");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let shipped = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/classifier.bin")).expect("models/classifier.bin");
    assert!(std::fs::read(&out).unwrap() == shipped, "models/classifier.bin is not what `switchyard train` builds: run it and commit the model");
    assert!(shipped.len() < 20 * 1024 * 1024);
}

#[test]
fn eval_json_keeps_the_contract_and_meets_the_bar_on_the_development_split() {
    let dir = TestDir::new("eval");
    let file = dir.path.join("dev.jsonl");
    let dev_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/classifier/dev");
    let mut lines = String::new();
    for e in std::fs::read_dir(&dev_dir).unwrap().flatten() {
        lines.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    std::fs::write(&file, lines).unwrap();
    let out = dir.command().arg("eval").arg(&file).arg("--json").output().expect("eval");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in ["intent.accuracy", "intent.macro_f1", "urgency.accuracy", "urgency.macro_f1", "urgency.emergency_recall", "language.accuracy"] {
        let (axis, field) = key.split_once('.').unwrap();
        assert!(r[axis][field].is_f64(), "`{key}` missing: {r}");
    }
    assert!(r["n"].as_u64().unwrap() >= 500 && r["seconds"].is_f64());
    assert!(r["intent"]["macro_f1"].as_f64().unwrap() >= 0.90, "intent macro-F1 {}", r["intent"]["macro_f1"]);
    assert_eq!(r["urgency"]["emergency_recall"].as_f64(), Some(1.0));
    assert!(r["language"]["accuracy"].as_f64().unwrap() >= 0.98);
}

#[test]
fn classify_json_gives_the_full_classification_with_entities() {
    let dir = TestDir::new("classify");
    let mut child = dir
        .command()
        .args(["classify", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("classify");
    let eml = "From: Giulia Rossi <giulia.rossi@posta.example>\r\nTo: assistenza@aurora.example\r\nSubject: Autolettura\r\n\r\n\
               Buongiorno, vi comunico l'autolettura del contatore POD IT001E00012345: 4.512 kWh al 18/11/2026.\r\nGrazie, Giulia\r\n";
    use std::io::Write;
    child.stdin.take().unwrap().write_all(eml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((c["intent"].as_str(), c["language"].as_str()), (Some("meter_reading"), Some("it")), "{c}");
    assert_eq!(c["urgency"], "normal");
    assert!(c["confidence"].as_f64().is_some_and(|p| p > 0.5));
    let entities = c["entities"].to_string();
    assert!(entities.contains("IT001E00012345") && entities.contains("4512"), "{entities}");
}

#[test]
fn corrections_staff_make_are_learned_by_the_next_train() {
    let dir = TestDir::new("corrections");
    let (lines, out) = dir.run_once(&[]);
    assert!(out.status.success());
    let billing = lines.iter().find(|l| l["intent"] == "billing").expect("a billing sample");
    let id = billing["store_id"].as_i64().unwrap().to_string();
    let ignored = lines.iter().find(|l| l["decision"] == "ignore").expect("machine mail");

    let refused = dir.command().args(["correct", "--message", &ignored["store_id"].to_string(), "--intent", "complaint", "--by", "anna"]).output().unwrap();
    assert!(!refused.status.success(), "machine mail was never classified, so it cannot be corrected");
    let bad = dir.command().args(["correct", "--message", &id, "--intent", "refund", "--by", "anna"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("refund"));
    let ok = dir.command().args(["correct", "--message", &id, "--intent", "complaint", "--urgency", "high", "--by", "anna"]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let stored = crate::helpers::query(&dir.db(), "SELECT message, intent, urgency, corrected_by FROM corrections");
    let expected = [Some(id.clone()), Some("complaint".into()), Some("high".into()), Some("anna".into())];
    assert_eq!(stored, vec![expected.to_vec()]);

    let with = dir.path.join("with.bin");
    let trained = dir.command().args(["train", "--out"]).arg(&with).output().unwrap();
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    assert!(String::from_utf8_lossy(&trained.stdout).contains(", 1 corrections)"), "{}", String::from_utf8_lossy(&trained.stdout));
    let without = dir.path.join("without.bin");
    assert!(dir.command().args(["train", "--no-corrections", "--out"]).arg(&without).status().unwrap().success());
    assert!(std::fs::read(&with).unwrap() != std::fs::read(&without).unwrap(), "the correction changed nothing");
    let shipped = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/classifier.bin")).unwrap();
    assert!(std::fs::read(&without).unwrap() == shipped, "without corrections the shipped model is rebuilt");
}
