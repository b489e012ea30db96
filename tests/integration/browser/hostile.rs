//! The hostile fixtures (tests/fixtures/hostile/*.eml) with `{{CANARY}}` replaced by a live
//! canary's address, and the text each must still show (visible.tsv).

use std::path::PathBuf;

use super::Canary;

#[derive(Debug, Clone)]
pub struct Fixture {
    /// File name without `.eml`; also the first segment of every canary path it uses.
    pub name: String,
    /// The raw message, ready to drop into an inbox or to parse.
    pub raw: Vec<u8>,
    /// Words of the customer's that must be visible however the message is shown.
    pub visible: String,
}

impl Fixture {
    /// The prefix of this fixture's canary paths: `/<name>/`.
    pub fn canary_prefix(&self) -> String {
        format!("/{}/", self.name)
    }

    /// The first HTML part, unsanitized: what the sender wrote.
    pub fn raw_html(&self) -> String {
        let message = mail_parser::MessageParser::default().parse(&self.raw);
        message.and_then(|m| m.body_html(0).map(|h| h.into_owned())).unwrap_or_else(|| panic!("{}: no HTML part", self.name))
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// One fixture by name (`"script"` or `"script.eml"`), aimed at `canary`.
pub fn hostile_fixture(name: &str, canary: &Canary) -> Fixture {
    let name = name.trim_end_matches(".eml");
    let path = dir().join(format!("{name}.eml"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    let table = std::fs::read_to_string(dir().join("visible.tsv")).expect("read tests/fixtures/hostile/visible.tsv");
    let visible = table
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}.eml\t")))
        .unwrap_or_else(|| panic!("{name}.eml has no row in tests/fixtures/hostile/visible.tsv"))
        .to_string();
    Fixture { name: name.to_string(), raw: raw.replace("{{CANARY}}", &canary.host()).into_bytes(), visible }
}

/// Every fixture, by name.
pub fn hostile_fixtures(canary: &Canary) -> Vec<Fixture> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("read tests/fixtures/hostile")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".eml").map(String::from))
        .collect();
    names.sort();
    names.iter().map(|n| hostile_fixture(n, canary)).collect()
}
