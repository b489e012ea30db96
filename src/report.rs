//! What `switchyard run` prints on stdout: a table row or one JSON object per processed
//! message. Logs go to stderr, so stdout can be piped.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use crate::domain::MessageId;
use crate::pipeline::Outcome;

pub struct Reporter {
    json: bool,
    out: Box<dyn Write + Send>,
    header_done: bool,
    totals: BTreeMap<&'static str, usize>,
}

impl Reporter {
    pub fn new(json: bool, out: Box<dyn Write + Send>) -> Self {
        Self { json, out, header_done: false, totals: BTreeMap::new() }
    }

    pub fn stdout(json: bool) -> Self {
        Self::new(json, Box::new(std::io::stdout()))
    }

    pub fn report(&mut self, o: &Outcome, reply: Option<&MessageId>) {
        *self.totals.entry(o.decision.as_str()).or_default() += 1;
        let result = if self.json { self.json_line(o, reply) } else { self.table_row(o) };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write report to stdout");
        }
    }

    fn json_line(&mut self, o: &Outcome, reply: Option<&MessageId>) -> std::io::Result<()> {
        let mut line = json!({
            "message_id": o.message_id,
            "from": o.from,
            "customer": o.customer,
            "language": o.language,
            "intent": o.intent,
            "urgency": o.urgency,
            "confidence": o.confidence.map(|c| (f64::from(c) * 1000.0).round() / 1000.0),
            "decision": o.decision,
            "reasons": o.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "reply_message_id": reply.map(|m| m.to_string()),
            "store_id": o.message,
            "source": o.source,
            "model": o.model,
            "decided_by": o.decided_by,
        });
        if let Some(llm) = &o.llm {
            line["llm"] = json!(llm);
        }
        if let Some(d) = o.draft.as_ref().and_then(|d| d.llm.as_ref()) {
            line["draft_llm"] = json!(d);
        }
        if let Some(d) = &o.draft {
            line["draft_template"] = json!(d.template);
        }
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    fn table_row(&mut self, o: &Outcome) -> std::io::Result<()> {
        if !self.header_done {
            writeln!(self.out, "{:<34} {:<5} {:<16} {:<9} {:<10} REASONS", "FROM", "LANG", "INTENT", "URGENCY", "DECISION")?;
            self.header_done = true;
        }
        let dash = || "-".to_string();
        let mut codes: Vec<&str> = o.reasons.iter().map(|r| r.code.as_str()).collect();
        codes.dedup();
        writeln!(
            self.out,
            "{:<34} {:<5} {:<16} {:<9} {:<10} {}",
            clip(o.from.as_deref().unwrap_or("(none)"), 34),
            o.language.map_or_else(dash, |l| l.to_string()),
            o.intent.map_or_else(dash, |i| i.to_string()),
            o.urgency.map_or_else(dash, |u| u.to_string()),
            o.decision.as_str(),
            codes.join(", ")
        )?;
        self.out.flush()
    }

    /// The closing summary line of the table (nothing in JSON mode, where every line is data).
    pub fn finish(&mut self) {
        if self.json {
            return;
        }
        let total: usize = self.totals.values().sum();
        let parts: Vec<String> = self.totals.iter().map(|(d, n)| format!("{n} {d}")).collect();
        let line = if total == 0 {
            "no new messages".to_string()
        } else {
            format!("{total} messages: {}", parts.join(", "))
        };
        if let Err(e) = writeln!(self.out, "{line}").and_then(|()| self.out.flush()) {
            tracing::warn!(error = %e, "cannot write report to stdout");
        }
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(width - 1).collect();
        out.push('…');
        out
    }
}
