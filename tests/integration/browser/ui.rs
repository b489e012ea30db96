//! The web queue itself in headless Chromium, served by the real `switchyard run` over the
//! sample mailbox and the hostile fixtures: a supervisor signs in and approves a draft; an
//! agent and a compliance user see only what their role allows; every hostile message opened
//! in the queue loads nothing and runs nothing, and remote images load only when asked for.
//! With `SWITCHYARD_SCREENSHOT=docs/queue.png` the queue's screenshot for the README is saved.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Browser, Canary, Fixture, WdResult, dismiss, hostile_fixtures, in_frame, with_dialogs};
use crate::helpers::{TestDir, samples_dir};
use crate::web::{PASSWORD, WebWorker, add_token, add_user, client, wait_until_triaged};

const LOAD: Duration = Duration::from_secs(20);

/// A data directory whose inbox holds the sample mailbox and the hostile fixtures.
fn inbox_with_hostile_mail(dir: &TestDir, fixtures: &[Fixture]) {
    let new = dir.path.join("inbox/new");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path.join("inbox").join(sub)).unwrap();
    }
    for e in std::fs::read_dir(samples_dir()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "eml") {
            std::fs::copy(e.path(), new.join(e.file_name())).unwrap();
        }
    }
    for f in fixtures {
        std::fs::write(new.join(format!("hostile-{}.eml", f.name)), &f.raw).unwrap();
    }
}

/// The store id of the message that came from `file`.
fn message_id(dir: &TestDir, file: &str) -> i64 {
    let rows = crate::helpers::query(&dir.db(), "SELECT id, channel_ref FROM messages");
    rows.iter()
        .find(|r| r[1].as_deref() == Some(file))
        .and_then(|r| r[0].as_deref()?.parse().ok())
        .unwrap_or_else(|| panic!("no message from {file}"))
}

fn sign_in(b: &Browser, url: &str, user: &str) -> WdResult<()> {
    b.goto(&format!("{url}/login"))?;
    let name = b.find("input[name=username]")?;
    b.send_keys(&name, user)?;
    b.send_keys(&b.find("input[name=password]")?, PASSWORD)?;
    b.click(&b.find("#sign-in")?)?;
    let signed = b.wait_for("the queue after sign-in", LOAD, |b| Ok(b.current_url()?.ends_with("/queue").then_some(())));
    if signed.is_err() {
        eprintln!("sign-in of {user} did not reach the queue; the browser shows {}:\n{}", b.current_url()?, b.page_source()?);
    }
    signed
}

fn sign_out(b: &Browser) -> WdResult<()> {
    b.click(&b.find("form.signout button")?)?;
    b.wait_for("the sign-in page", LOAD, |b| Ok(b.current_url()?.ends_with("/login").then_some(())))
}

fn loaded(b: &Browser) -> WdResult<()> {
    b.wait_for("page loaded", LOAD, |b| Ok((b.execute("return document.readyState", vec![])? == "complete").then_some(())))
}

#[test]
fn staff_work_the_queue_in_the_browser_and_hostile_mail_stays_inert() -> WdResult<()> {
    let canary = Canary::start();
    let fixtures = hostile_fixtures(&canary);
    let dir = TestDir::new("web-ui");
    inbox_with_hostile_mail(&dir, &fixtures);
    for (name, role) in [("sara", "supervisor"), ("alice", "agent"), ("carla", "compliance")] {
        add_user(&dir, name, role);
    }
    let token = add_token(&dir, "sara", "test");
    let worker = WebWorker::start(&dir, &[]);
    let url = worker.url.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(wait_until_triaged(&client(), &url, &token));
    let b = Browser::start()?;

    // A supervisor signs in: the session cookie is HttpOnly and SameSite.
    sign_in(&b, &url, "sara")?;
    let session = b.cookies()?.into_iter().find(|c| c.name == "switchyard_session").expect("a session cookie");
    assert!(session.http_only, "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Lax"));
    let first = b.text(&b.find("table.queue tbody tr td")?)?;
    assert!(first.contains("emergency"), "emergencies lead the queue: {first}");
    if let Ok(path) = std::env::var("SWITCHYARD_SCREENSHOT") {
        b.screenshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path))?;
    }
    b.screenshot(&dir.path.join("queue.png"))?;

    // … opens a held draft, sees its claims checked, and approves it.
    let billing = message_id(&dir, "013-anna-voci-bolletta.eml");
    b.goto(&format!("{url}/messages/{billing}"))?;
    loaded(&b)?;
    assert!(b.find_all("#claims tr.verified")?.len() > 3, "claims marked verified");
    b.click(&b.find("#approve")?)?;
    b.wait_for("the approval", LOAD, |b| Ok(b.current_url()?.contains("done=approved").then_some(())))?;
    assert!(b.text(&b.find("#state")?)?.starts_with("approved"));
    let deadline = Instant::now() + LOAD;
    while !dir.maildir_files("outbox").keys().any(|k| k.starts_with("p.")) {
        assert!(Instant::now() < deadline, "the approved reply was not delivered:\n{}", worker.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    sign_out(&b)?;

    // An agent cannot act on an emergency; compliance can read everything and change nothing.
    let emergency = message_id(&dir, "016-roberto-galli-odore-gas.eml");
    sign_in(&b, &url, "alice")?;
    b.goto(&format!("{url}/messages/{emergency}"))?;
    loaded(&b)?;
    assert!(b.find_all("#approve, #reject")?.is_empty(), "no approve or reject for an agent on an emergency");
    sign_out(&b)?;
    sign_in(&b, &url, "carla")?;
    b.goto(&format!("{url}/messages/{billing}"))?;
    loaded(&b)?;
    assert!(b.find_all("main form")?.is_empty(), "compliance gets no forms");
    assert!(b.find_all("#claims")?.len() == 1, "but reads the claims");

    // Every hostile message, opened in the queue: nothing loads, nothing runs, every link is dead.
    for f in fixtures.iter().filter(|f| f.name != "remote-image") {
        let id = message_id(&dir, &format!("hostile-{}.eml", f.name));
        let page = format!("{url}/messages/{id}");
        let mut dialogs = Vec::new();
        with_dialogs(&b, &mut dialogs, |b| b.goto(&page))?;
        loaded(&b)?;
        b.wait_for(&format!("{}: the customer's words", f.name), LOAD, |b| {
            let text = in_frame(b, "iframe.mail", |b| b.find("body").and_then(|body| b.text(&body)))?;
            Ok(text.contains(&f.visible).then_some(()))
        })?;
        let clickable = in_frame(&b, "iframe.mail", |b| b.find_all("a, area, button, input, [onclick]"))?;
        for i in 0..clickable.len() {
            let _ = in_frame(&b, "iframe.mail", |b| b.click(&clickable[i]));
            dismiss(&b, &mut dialogs)?;
        }
        // A fresh load of our page: anything the clicks started has been asked for by now.
        with_dialogs(&b, &mut dialogs, |b| b.goto(&page))?;
        loaded(&b)?;
        assert!(dialogs.is_empty(), "{}: dialogs {dialogs:?}", f.name);
        assert_eq!(b.current_url()?, page, "{}: the page was navigated away", f.name);
        let hits = canary.hits();
        assert!(hits.is_empty(), "{}: the canary saw {:?}", f.name, hits.iter().map(|h| &h.path).collect::<Vec<_>>());
    }

    // Remote images: blocked, until a person asks for them.
    let benign = message_id(&dir, "hostile-remote-image.eml");
    b.goto(&format!("{url}/messages/{benign}"))?;
    loaded(&b)?;
    assert!(canary.hits().is_empty(), "blocked by default");
    b.click(&b.find("#show-images")?)?;
    b.wait_for("the remote image, once asked for", LOAD, |_| Ok((!canary.hits_for("/remote-image/").is_empty()).then_some(())))?;
    drop(b);
    worker.stop();
    Ok(())
}
