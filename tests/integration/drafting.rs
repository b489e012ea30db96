//! LLM drafting against a fake OpenAI-compatible server: the model writes around slots and
//! Switchyard fills them from verified facts; a value the model types itself is unverified and
//! holds the reply; a slot it invents falls back to the template. And `switchyard factcheck`,
//! the command staff and other tools use, on good and adversarial drafts.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, completion};
use crate::helpers::{TestDir, samples_dir};

/// Giulia Rossi (40000001) asks about her bill: billing, Italian, auto-sent with templates.
const BILLING: &str = "001-giulia-bolletta-alta.eml";

fn draft_with(body: &str) -> (TestDir, Vec<Value>, FakeLlm) {
    let answer = json!({ "body": body }).to_string();
    let fake = FakeLlm::start(move |_, _| completion(&answer));
    let dir = TestDir::new("drafting");
    let inbox = dir.path.join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub)).expect("inbox");
    }
    std::fs::copy(samples_dir().join(BILLING), inbox.join("new").join(BILLING)).expect("copy sample");
    let out = dir
        .command()
        .args(["run", "--once", "--json", "--no-seed"])
        .env("SWITCHYARD__DRAFT__MODE", "llm")
        .env("SWITCHYARD__LLM__BASE_URL", fake.base_url())
        .env("SWITCHYARD__LLM__API_KEY", "sk-test-key")
        .env("SWITCHYARD__LLM__RETRIES", "0")
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("run switchyard");
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    (dir, lines, fake)
}

fn sent_text(dir: &TestDir) -> String {
    dir.maildir_files("outbox").values().map(|raw| String::from_utf8_lossy(raw).into_owned()).collect::<Vec<_>>().join("\n")
}

fn codes(line: &Value) -> Vec<String> {
    line["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().split(':').next().unwrap().to_string()).collect()
}

#[test]
fn the_llm_writes_around_slots_and_switchyard_fills_the_values() {
    let body = "Gentile {{customer.name}},\n\nla sua ultima bolletta {{invoice.number}} è di {{invoice.amount}} \
                e va pagata entro il {{invoice.due_date}}.\nPer domande ci chiami al {{brand.phone}}.\n\nCordiali saluti,\n{{brand.company}}";
    let (dir, lines, fake) = draft_with(body);
    let line = &lines[0];
    assert_eq!(line["decision"], "auto_send", "{line}");
    let record = &line["draft_llm"];
    assert_eq!(record["outcome"], "accepted", "{record}");
    assert!(record["prompt"].as_str().is_some_and(|p| p.starts_with("draft-")), "{record}");
    assert_eq!(record["usage"]["prompt_tokens"], 412);
    assert_eq!(record["slots"], json!(["customer.name", "invoice.number", "invoice.amount", "invoice.due_date", "brand.phone", "brand.company"]));
    let sent = sent_text(&dir);
    assert!(sent.contains("F2026-0011452") && sent.contains("Giulia Rossi"), "{sent}");
    assert!(!sent.contains("{{"), "every slot is filled: {sent}");
    // The model was given the slots with their values and the template's reply as reference.
    let user = fake.requests()[0].body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(user.contains("invoice.amount = 128,40 €") && user.contains("REFERENCE") && user.contains("<<<CUSTOMER MESSAGE>>>"), "{user}");
    let stored = crate::helpers::query(&dir.db(), "SELECT draft_llm_prompt, draft_template FROM decisions");
    assert!(stored[0][0].as_deref().is_some_and(|p| p.starts_with("draft-")), "{stored:?}");
    assert_eq!(stored[0][1].as_deref(), Some("llm:replies/billing.it.txt"));
}

#[test]
fn a_value_the_llm_typed_itself_holds_the_reply() {
    let body = "Gentile {{customer.name}}, la bolletta {{invoice.number}} è di 182,40 €. Cordiali saluti, {{brand.company}}";
    let (dir, lines, _) = draft_with(body);
    assert_eq!(lines[0]["decision"], "approve", "{}", lines[0]);
    assert!(codes(&lines[0]).contains(&"unverified_claim".to_string()), "{}", lines[0]);
    assert!(sent_text(&dir).is_empty(), "nothing was sent");
}

#[test]
fn an_invented_slot_falls_back_to_the_template() {
    let (dir, lines, _) = draft_with("Gentile cliente, le rimborseremo {{refund.amount}}.");
    let line = &lines[0];
    assert_eq!(line["decision"], "auto_send", "{line}");
    assert!(codes(line).contains(&"llm_draft_fallback".to_string()), "{line}");
    assert_eq!(line["draft_template"], "replies/billing.it.txt");
    assert!(line["draft_llm"]["outcome"].as_str().unwrap().contains("refund.amount"));
    assert!(!sent_text(&dir).contains("rimborser"));
}

/// `switchyard factcheck --customer ACCOUNT [--json] < draft`: its exit code and its JSON.
fn factcheck(account: &str, draft: &str) -> (i32, Value) {
    let dir = TestDir::new("factcheck");
    let mut child = dir
        .command()
        .args(["factcheck", "--customer", account, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run switchyard");
    child.stdin.take().expect("stdin").write_all(draft.as_bytes()).expect("write the draft");
    let out = child.wait_with_output().expect("wait");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn factcheck_exits_0_when_every_claim_is_verified_and_names_what_it_matched() {
    let draft = "Gentile Giulia Rossi, la bolletta F2026-0011452 (POD IT001E00012345) è di 128,40 € e scade il 5 dicembre 2026. \
                 Per pagare con bonifico: IT60 X054 2811 1010 0000 0123 456. Numero verde 800 123 456, https://www.aurora.example/bollette.";
    let (code, json) = factcheck("40000001", draft);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["verified"], true);
    let claims = json["claims"].as_array().unwrap();
    let amount = claims.iter().find(|c| c["text"] == "128,40 €").expect("the amount is a claim");
    assert_eq!((amount["kind"].as_str(), amount["verified"].as_bool()), (Some("money"), Some(true)));
    assert_eq!(amount["fact"]["source"], "cis.demo");
    for c in claims {
        assert!(c["kind"].is_string() && c["text"].is_string() && c["verified"].is_boolean(), "{c}");
    }
}

#[test]
fn factcheck_exits_1_on_every_adversarial_draft() {
    for (what, draft) in [
        ("an invented amount", "La bolletta è di 99,00 €."),
        ("a wrong due date", "La bolletta scade il 6 dicembre 2026."),
        ("swapped digits in the POD", "Il suo POD è IT001E00012354."),
        ("a made-up URL", "Paghi su https://aurora-pagamenti.example/paga."),
        ("a restoration time not in the OMS", "La corrente tornerà alle 23:45 del 20/11/2026."),
        ("another customer's account", "Il suo conto è 40000002."),
    ] {
        let (code, json) = factcheck("40000001", draft);
        assert_eq!(code, 1, "{what} was accepted: {json:#}");
        assert_eq!(json["verified"], false, "{what}");
    }
    let (code, _) = factcheck("49999999", "Nessun numero.");
    assert_eq!(code, 1, "an unknown customer cannot be checked");
}
