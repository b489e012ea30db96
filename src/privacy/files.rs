//! The Maildir copies of purged and erased messages: the customer's mail in the inbox, and the
//! replies, drafts, review notes and alerts written for it. The database says which files they
//! are (the inbox file's name is the message's channel ref, the others are named after their
//! Message-ID); this removes them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::Settings;

/// The Maildir folders of the data directory.
#[derive(Debug, Clone)]
pub struct Folders {
    pub inbox: PathBuf,
    /// Outbox, drafts and review: files named after the outgoing Message-ID.
    pub outgoing: Vec<PathBuf>,
}

impl Folders {
    pub fn of(settings: &Settings, data_dir: &Path) -> Self {
        let m = &settings.maildir;
        Self { inbox: data_dir.join(&m.inbox), outgoing: [&m.outbox, &m.drafts, &m.review].iter().map(|d| data_dir.join(d)).collect() }
    }
}

/// Which files to remove: inbox files by channel ref, outgoing ones by Message-ID.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub inbox_refs: HashSet<String>,
    pub outgoing_ids: HashSet<String>,
}

impl Targets {
    pub fn is_empty(&self) -> bool {
        self.inbox_refs.is_empty() && self.outgoing_ids.is_empty()
    }
}

/// The file name the Maildir sink gives an outgoing message (see `MaildirSink::file_name`).
pub fn outgoing_name(rfc_message_id: &str) -> String {
    rfc_message_id.replace(['/', ':'], "_")
}

/// The unique part of a Maildir file name, without `:2,flags`.
fn base_name(name: &str) -> &str {
    name.split(":2,").next().unwrap_or(name)
}

/// Removes every file of `targets` from new/, cur/ and tmp/ of the folders, whatever flags a
/// mail client gave it since; returns how many were removed. A folder that does not exist has
/// nothing to remove; a file that cannot be removed is an error (the caller retries later).
pub fn remove(folders: &Folders, targets: &Targets) -> std::io::Result<u64> {
    if targets.is_empty() {
        return Ok(0);
    }
    let names: HashSet<String> = targets.outgoing_ids.iter().map(|id| outgoing_name(id)).collect();
    let mut removed = remove_in(&folders.inbox, &targets.inbox_refs)?;
    for folder in &folders.outgoing {
        removed += remove_in(folder, &names)?;
    }
    Ok(removed)
}

fn remove_in(folder: &Path, wanted: &HashSet<String>) -> std::io::Result<u64> {
    let mut removed = 0;
    for sub in ["new", "cur", "tmp"] {
        let entries = match std::fs::read_dir(folder.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if wanted.contains(base_name(&name)) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_files_go_whatever_their_flags() {
        let dir = crate::testing::temp_dir("privacy-files");
        let folders = Folders { inbox: dir.join("inbox"), outgoing: vec![dir.join("outbox"), dir.join("drafts")] };
        for (path, body) in [
            ("inbox/cur/1700.a:2,S", "customer"),
            ("inbox/new/1700.b", "other customer"),
            ("outbox/new/r.abc@x.example", "reply"),
            ("outbox/cur/r.keep@x.example:2,S", "other reply"),
            ("drafts/cur/d.abc@x.example:2,DS", "draft"),
        ] {
            std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.join(path), body).unwrap();
        }
        let targets = Targets {
            inbox_refs: ["1700.a".to_string()].into(),
            outgoing_ids: ["r.abc@x.example".to_string(), "d.abc@x.example".to_string()].into(),
        };
        assert_eq!(remove(&folders, &targets).unwrap(), 3);
        assert!(dir.join("inbox/new/1700.b").exists() && dir.join("outbox/cur/r.keep@x.example:2,S").exists());
        assert!(!dir.join("inbox/cur/1700.a:2,S").exists() && !dir.join("drafts/cur/d.abc@x.example:2,DS").exists());
        assert_eq!(remove(&folders, &targets).unwrap(), 0, "removing again finds nothing");
    }
}
